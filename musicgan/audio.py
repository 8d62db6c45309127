"""Reading a folder of music: every file found recursively becomes mono clips at one sample rate, or is skipped
with a reason.

Files are opened read-only and never modified. Each file is decoded block by block with soundfile
(wav, flac, ogg/vorbis/opus, mp3, aiff, ...), mixed down to mono and resampled with soxr as it streams in,
so a long stereo 44.1 kHz recording never sits in memory at its original rate. Formats soundfile cannot
decode (m4a, aac, wma, unusual mp3) are tried once more through librosa/audioread, which needs ffmpeg. A file that
cannot be read, is empty, or is not audio is named with the reason and skipped; the caller keeps going.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sims.checks import check_int

__all__ = ["AUDIO_EXTENSIONS", "AudioReadError", "ReadReport", "display_name", "scan_folder", "find_files",
           "load_mono", "clip_audio", "iter_folder_clips"]

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                              ".aifc", ".au", ".w64", ".caf", ".m4a", ".aac", ".wma"})
NEEDS_AUDIOREAD = frozenset({".mp3", ".m4a", ".aac", ".wma"})  # worth a second decoder if libsndfile fails
BLOCK_FRAMES = 1 << 18          # frames decoded at a time (about 6 s at 44.1 kHz)
SILENCE_DB = -60.0              # clips whose RMS (DC offset removed) is below this many dB re full scale are dropped
MAX_ABS_SAMPLE = 1e6            # larger samples are damage, not audio (and would overflow float32 power)
CANCEL_DB = -40.0               # a mono mix this far below the loudest channel means the channels cancelled


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


def display_name(name: str) -> str:
    """``name`` printable on any terminal: bytes that were not UTF-8 (kept by Python as surrogates) as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _os_reason(err: OSError) -> str:
    return (err.strerror or type(err).__name__).lower() if isinstance(err, OSError) else _one_line(err)


def _special_kind(path: Path) -> str:
    import stat

    mode = path.lstat().st_mode
    kinds = {stat.S_ISFIFO: "a named pipe", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def _symlink_problem(path: Path) -> str | None:
    """Why the symbolic link ``path`` is not read, or None when it points to a regular file (which is read)."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return f"broken symbolic link (its target {display_name(os.readlink(path))} does not exist)"
    except (RuntimeError, OSError) as err:                 # Python 3.11: RuntimeError("Symlink loop ...")
        if isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
        return f"cannot follow symbolic link: {_os_reason(err)}"
    if target.is_dir():
        return "symbolic link to a folder (not followed, so that no folder is read twice)"
    if not target.is_file():
        return f"symbolic link to {_special_kind(target)}"
    return None


def scan_folder(folder) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every regular file under ``folder`` (recursively), and every other entry with the reason it is not read.

    Returns ``(files, problems)``, both sorted by path: ``problems`` holds ``(path, reason)`` for folders that
    cannot be listed, broken or looping symbolic links, links to folders (not followed), pipes, sockets and
    devices (never opened: reading a pipe could block). NotADirectoryError if ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"audio folder {display_name(str(root))!r} is not a directory")
    files, problems, pending = [], [], [root]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as err:
            problems.append((current, f"cannot open folder: {_os_reason(err)}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                why = _symlink_problem(path)
                files.append(path) if why is None else problems.append((path, why))
            elif entry.is_dir(follow_symlinks=False):
                pending.append(path)
            elif entry.is_file(follow_symlinks=False):
                files.append(path)
            else:
                problems.append((path, f"not a regular file ({_special_kind(path)})"))
    return sorted(files), sorted(problems)


def find_files(folder) -> list[Path]:
    """Every regular file under ``folder`` (recursively, symlinked folders not followed), sorted by path."""
    return scan_folder(folder)[0]


def _looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file are text (UTF-8 without NUL bytes): no audio container starts so."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3                      # only a character cut at the end of the block
    return True


def load_mono(path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` Hz, shape ``(samples,)``; AudioReadError if unusable.

    Reasons given: not an audio extension, permission denied, empty, text, undecodable (with libsndfile's
    words, and a hint when ffmpeg is needed), NaN/infinite or absurdly large samples, channels that cancel.
    """
    check_int(sample_rate, "sample_rate", low=1)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        raise AudioReadError(f"not an audio file extension ({path.suffix or 'none'})")
    try:
        with open(path, "rb") as f:                                   # read-only
            head = f.read(4096)
    except OSError as err:
        raise AudioReadError(f"cannot open: {_os_reason(err)}") from None
    if not head:
        raise AudioReadError("empty file (0 bytes)")
    if _looks_like_text(head):
        raise AudioReadError(f"not audio: the file holds text (it begins {head[:20].decode('utf-8', 'replace')!r})")
    try:
        with _quiet_native_stderr():
            audio = _load_soundfile(path, sample_rate)
    except AudioReadError:
        raise
    except Exception as err:
        reason = getattr(err, "error_string", None) or _one_line(err)  # libsndfile's words, without the path
        if suffix not in NEEDS_AUDIOREAD:
            raise AudioReadError(f"cannot decode: {reason}") from None
        if suffix != ".mp3" and shutil.which("ffmpeg") is None:
            raise AudioReadError(f"cannot decode {suffix} files: they need ffmpeg, which is not installed "
                                 "(e.g. apt-get install ffmpeg)") from None
        with _quiet_native_stderr():
            audio = _load_fallback(path, sample_rate, reason=reason)
    if audio.size == 0:
        raise AudioReadError("no audio samples in the file")
    _check_samples(audio)
    return audio


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence file descriptor 2 while a C decoder runs: libsndfile's mp3 decoder (mpg123) prints notes such as
    "Illegal Audio-MPEG-Header" there, which would bury the one-line reason we give."""
    sys.stderr.flush()
    try:
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _check_samples(samples: np.ndarray) -> None:
    if not np.all(np.isfinite(samples)):
        raise AudioReadError("contains NaN or infinite samples")
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak > MAX_ABS_SAMPLE:
        raise AudioReadError(f"samples reach {peak:.3g}, more than {MAX_ABS_SAMPLE:.0e} times full scale "
                             "(a damaged float file?)")


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _load_soundfile(path: Path, sample_rate: int) -> np.ndarray:
    import soundfile
    import soxr

    with open(path, "rb") as raw, soundfile.SoundFile(raw) as f:   # a file object: any file name works
        stream = None if f.samplerate == sample_rate else soxr.ResampleStream(f.samplerate, sample_rate, 1,
                                                                               dtype="float32")
        parts, channel_energy, mono_energy = [], np.zeros(f.channels), 0.0
        for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            _check_samples(block)                                   # before any arithmetic can overflow
            mono = block.mean(axis=1)                                # downmix: the average of the channels
            channel_energy += np.square(block, dtype=np.float64).sum(axis=0)
            mono_energy += float(np.square(mono, dtype=np.float64).sum())
            parts.append(mono if stream is None else stream.resample_chunk(mono))
        if stream is not None:
            parts.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    _check_downmix(channel_energy, mono_energy)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _check_downmix(channel_energy: np.ndarray, mono_energy: float) -> None:
    """AudioReadError when mixing to mono cancels the sound (channels in anti-phase)."""
    loudest = float(channel_energy.max()) if channel_energy.size else 0.0
    if channel_energy.size > 1 and loudest > 0 and mono_energy < loudest * 10 ** (CANCEL_DB / 10):
        level = (f"{10 * np.log10(loudest / mono_energy):.0f} dB below the loudest channel" if mono_energy > 0
                 else "silent")
        raise AudioReadError(f"the channels cancel when mixed to mono: the mix is {level} (channels in anti-phase?)")


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

    Only whole clips are kept (the tail shorter than a clip is dropped), and so are clips whose RMS level,
    about the clip's own mean (so a DC offset alone is silence), is below ``silence_db`` dB re full scale.
    Returns the clips (a copy) and their start samples ``(n_clips,)``.
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
    rms = np.std(clips, axis=1, dtype=np.float64)                # RMS about the mean: DC offset removed
    loud = 20 * np.log10(np.maximum(rms, 1e-12)) >= silence_db
    return np.ascontiguousarray(clips[loud]), starts[loud]


def _why_no_clips(audio: np.ndarray, clip_samples: int, silence_db: float) -> str:
    if audio.size < clip_samples:
        return "shorter than one clip"
    level = 20 * np.log10(max(float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))), 1e-12))
    if level >= silence_db:
        return "every clip below the silence level once its DC offset is removed (a constant signal)"
    return "every clip below the silence level"


def iter_folder_clips(folder, sample_rate: int, clip_samples: int, hop_samples: int, *,
                      silence_db: float = SILENCE_DB, report: ReadReport | None = None,
                      log: Callable[[str], None] = print,
                      load: Callable[[Path, int], np.ndarray] | None = None,
                      ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(relative path, clips, starts)`` for every readable file under ``folder``.

    ``load(path, sample_rate)`` decodes one file to mono audio or raises AudioReadError (default
    :func:`load_mono`). Every file or folder not read -- undecodable, unreadable, broken links, pipes, folders
    that cannot be listed -- is reported through ``log`` as ``skipped <path>: <reason>`` and recorded in
    ``report``; names that are not UTF-8 are shown with ``\\xNN`` escapes.
    """
    root = Path(folder)
    report = ReadReport() if report is None else report
    load = load_mono if load is None else load
    files, problems = scan_folder(root)
    for path, reason in problems:
        _skip(report, log, _relative(path, root), reason)
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            audio = load(path, sample_rate)
        except (AudioReadError, OSError) as err:
            _skip(report, log, name, _os_reason(err) if isinstance(err, OSError) else _one_line(err))
            continue
        clips, starts = clip_audio(audio, clip_samples, hop_samples, silence_db)
        report.clips_per_file[display_name(name)] = len(clips)
        if len(clips) == 0:
            log(f"no clips from {display_name(name)}: {_why_no_clips(audio, clip_samples, silence_db)} "
                f"({audio.size / sample_rate:.2f} s of audio)")
        yield name, clips, starts


def _relative(path: Path, root: Path) -> str:
    return "." if path == root else path.relative_to(root).as_posix()


def _skip(report: ReadReport, log: Callable[[str], None], name: str, reason: str) -> None:
    report.skipped.append((display_name(name), reason))
    log(f"skipped {display_name(name)}: {reason}")
