"""Reading a folder of music: every file found recursively becomes mono clips at one sample rate, or is skipped
with a reason.

Files are opened read-only and never modified. Each file is decoded block by block with soundfile
(wav, flac, ogg/vorbis/opus, mp3, aiff, ...), mixed down to mono and resampled with soxr as it streams in,
so a long stereo 44.1 kHz recording never sits in memory at its original rate. Formats soundfile cannot
decode (m4a, aac, wma, unusual mp3) are tried once more through librosa/audioread, which needs ffmpeg. A file that
cannot be read, is empty, or is not audio is named with the reason and skipped; the caller keeps going.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sims.checks import check_int

__all__ = ["AUDIO_EXTENSIONS", "AudioReadError", "ReadReport", "find_files", "load_mono", "clip_audio",
           "iter_folder_clips"]

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                              ".aifc", ".au", ".w64", ".caf", ".m4a", ".aac", ".wma"})
NEEDS_AUDIOREAD = frozenset({".mp3", ".m4a", ".aac", ".wma"})  # worth a second decoder if libsndfile fails
BLOCK_FRAMES = 1 << 18          # frames decoded at a time (about 6 s at 44.1 kHz)
SILENCE_DB = -60.0              # clips whose RMS is below this many dB re full scale are dropped


class AudioReadError(Exception):
    """A file that cannot be used as audio; the message is the reason shown to the user."""


@dataclass
class ReadReport:
    """What happened to each file of a folder: read (with its clip count) or skipped (with the reason)."""

    clips_per_file: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_clips(self) -> int:
        return sum(self.clips_per_file.values())

    def summary(self) -> str:
        empty = sum(1 for n in self.clips_per_file.values() if n == 0)
        note = f" ({empty} gave no clip)" if empty else ""
        return (f"files read: {len(self.clips_per_file)}{note}; files skipped: {len(self.skipped)}; "
                f"clips made: {self.n_clips}")


def find_files(folder) -> list[Path]:
    """Every regular file under ``folder`` (recursively, symlinked folders not followed), sorted by path."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"audio folder {str(root)!r} is not a directory")
    return sorted(p for p in root.rglob("*") if p.is_file())


def load_mono(path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` Hz, shape ``(samples,)``; AudioReadError if unusable."""
    check_int(sample_rate, "sample_rate", low=1)
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise AudioReadError(f"not an audio file extension ({path.suffix or 'none'})")
    if path.stat().st_size == 0:
        raise AudioReadError("empty file (0 bytes)")
    try:
        audio = _load_soundfile(path, sample_rate)
    except Exception as err:
        reason = getattr(err, "error_string", None) or _one_line(err)  # libsndfile's words, without the path
        if path.suffix.lower() not in NEEDS_AUDIOREAD:
            raise AudioReadError(f"cannot decode: {reason}") from None
        audio = _load_fallback(path, sample_rate, reason=reason)
    if audio.size == 0:
        raise AudioReadError("no audio samples in the file")
    if not np.all(np.isfinite(audio)):
        raise AudioReadError("contains NaN or infinite samples")
    return audio


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _load_soundfile(path: Path, sample_rate: int) -> np.ndarray:
    import soundfile
    import soxr

    with soundfile.SoundFile(path) as f:                             # mode "r": the file is never written
        stream = None if f.samplerate == sample_rate else soxr.ResampleStream(f.samplerate, sample_rate, 1,
                                                                               dtype="float32")
        parts = []
        for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            mono = block.mean(axis=1)                                # downmix: the average of the channels
            parts.append(mono if stream is None else stream.resample_chunk(mono))
        if stream is not None:
            parts.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _load_fallback(path: Path, sample_rate: int, reason: str) -> np.ndarray:
    """librosa.load (audioread, needs ffmpeg) for what libsndfile cannot decode; else the original reason."""
    try:
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, _ = librosa.load(path, sr=sample_rate, mono=True)
    except Exception:
        raise AudioReadError(f"cannot decode: {reason}") from None
    return audio.astype(np.float32)


def clip_audio(audio: np.ndarray, clip_samples: int, hop_samples: int,
               silence_db: float = SILENCE_DB) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``audio`` ``(samples,)`` into clips ``(n_clips, clip_samples)`` every ``hop_samples``.

    Only whole clips are kept (the tail shorter than a clip is dropped), and so are clips whose RMS level is
    below ``silence_db`` dB re full scale. Returns the clips (a copy) and their start samples ``(n_clips,)``.
    """
    check_int(clip_samples, "clip_samples", low=1)
    check_int(hop_samples, "hop_samples", low=1)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono samples), got shape {audio.shape}")
    n_clips = 0 if audio.size < clip_samples else 1 + (audio.size - clip_samples) // hop_samples
    starts = np.arange(n_clips) * hop_samples
    if n_clips == 0:
        return np.zeros((0, clip_samples), np.float32), starts
    clips = np.lib.stride_tricks.sliding_window_view(audio, clip_samples)[::hop_samples][:n_clips]
    rms = np.sqrt(np.mean(np.square(clips, dtype=np.float64), axis=1))
    loud = 20 * np.log10(np.maximum(rms, 1e-12)) >= silence_db
    return np.ascontiguousarray(clips[loud]), starts[loud]


def iter_folder_clips(folder, sample_rate: int, clip_samples: int, hop_samples: int, *,
                      silence_db: float = SILENCE_DB, report: ReadReport | None = None,
                      log: Callable[[str], None] = print) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(relative path, clips, starts)`` for every readable audio file under ``folder``.

    Each skipped file is reported through ``log`` as ``skipped <path>: <reason>`` and recorded in ``report``.
    """
    root = Path(folder)
    report = ReadReport() if report is None else report
    for path in find_files(root):
        name = path.relative_to(root).as_posix()
        try:
            audio = load_mono(path, sample_rate)
        except (AudioReadError, OSError) as err:
            report.skipped.append((name, _one_line(err)))
            log(f"skipped {name}: {_one_line(err)}")
            continue
        clips, starts = clip_audio(audio, clip_samples, hop_samples, silence_db)
        report.clips_per_file[name] = len(clips)
        if len(clips) == 0:
            why = "shorter than one clip" if audio.size < clip_samples else "every clip below the silence level"
            log(f"no clips from {name}: {why} ({audio.size / sample_rate:.2f} s of audio)")
        yield name, clips, starts

