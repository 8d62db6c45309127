"""Log-mel throughput: our batched torch implementation against librosa, on the same clips, in one run.

Goal (issue 8): at least 2x librosa on this CPU. The clips are consecutive 1.008 s excerpts of eight Bach
chorales rendered by the default (harmonic) renderer, so the input is the data set's own kind of audio.
librosa is timed two ways -- clip by clip (what matches our per-clip dB floor exactly) and with the whole
batch passed at once (librosa accepts (batch, samples) input; the per-clip floor is then applied in numpy)
-- and the ratio is taken against the faster of the two. Everything is timed twice: with one thread for
torch, BLAS and the FFTs (the fair per-core comparison, and the stable one on a shared machine), then with
the libraries' default threads. Wall-clock and CPU time are both printed; on a shared machine the wall-clock
numbers are inflated by other jobs, and threads that wait for a busy core burn CPU time.

    PYTHONPATH=. python benchmarks/bench_mel.py [--repeats 5]
"""
from __future__ import annotations

import argparse

import librosa
import numpy as np
import torch

from musicgan.audio import clip_audio
from musicgan.chorales import chorale_paths, render_chorale
from musicgan.mel import MelConfig, log_mel_spectrogram

from benchmarks._timing import timed

CFG = MelConfig()
PER_CLIP, BATCHED, OURS = "librosa, clip by clip", "librosa, batched", "ours (torch, batched)"


def bench_clips(n_pieces: int = 8) -> np.ndarray:
    """Clips ``(n_clips, clip_samples)`` float32 from the first chorales of the corpus."""
    pieces = [render_chorale(p, CFG.sample_rate) for p in chorale_paths()[:n_pieces]]
    return np.concatenate([clip_audio(a, CFG.clip_samples, CFG.clip_samples)[0] for a in pieces])


def librosa_per_clip(clips: np.ndarray) -> np.ndarray:
    return np.stack([librosa.power_to_db(_librosa_mel(c), top_db=CFG.top_db) for c in clips])


def librosa_batched(clips: np.ndarray) -> np.ndarray:
    db = librosa.power_to_db(_librosa_mel(clips), top_db=None)
    return np.maximum(db, db.max(axis=(1, 2), keepdims=True) - CFG.top_db)


def _librosa_mel(y: np.ndarray) -> np.ndarray:
    return librosa.feature.melspectrogram(y=y, sr=CFG.sample_rate, n_fft=CFG.n_fft, hop_length=CFG.hop_length,
                                          n_mels=CFG.n_mels, fmin=CFG.fmin, fmax=CFG.fmax, htk=True, norm=CFG.norm)


def ours(clips: np.ndarray) -> np.ndarray:
    return log_mel_spectrogram(torch.from_numpy(clips), CFG).numpy()


def best_time(fn, clips, repeats):
    """(best wall seconds, CPU seconds of that run, output) over ``repeats`` runs after one warm-up."""
    out = fn(clips)
    best = min(timed(lambda: fn(clips)) for _ in range(repeats))
    return best[0], best[1], out


def compare(clips: np.ndarray, repeats: int) -> dict[str, tuple[float, float]]:
    """Time the three ways on ``clips`` and print a table; return ``{way: (best wall s, its CPU s)}``."""
    results = {name: best_time(fn, clips, repeats) for name, fn in
               [(PER_CLIP, librosa_per_clip), (BATCHED, librosa_batched), (OURS, ours)]}
    reference = results[PER_CLIP][2]
    print(f"  {'':22s} {'wall ms':>8s} {'CPU ms':>8s} {'clips/s':>8s} {'max diff dB':>12s}")
    for name, (wall, cpu, out) in results.items():
        diff = np.abs(out - reference).max()
        print(f"  {name:22s} {wall * 1e3:8.1f} {cpu * 1e3:8.1f} {len(clips) / wall:8.0f} {diff:12.1e}")
    return {name: (wall, cpu) for name, (wall, cpu, _) in results.items()}


def speedups(results: dict[str, tuple[float, float]], column: int) -> tuple[float, float]:
    """Our speed-up over librosa batched and over librosa clip by clip (column 0: wall, 1: CPU time)."""
    ours_time = results[OURS][column]
    return results[BATCHED][column] / ours_time, results[PER_CLIP][column] / ours_time


def single_threaded(clips: np.ndarray, repeats: int) -> dict[str, tuple[float, float]]:
    """:func:`compare` with one thread for torch, BLAS and the FFTs."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return compare(clips, repeats)
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    clips = bench_clips()
    print(f"{len(clips)} clips of {CFG.clip_samples} samples -> {CFG.n_mels} x {CFG.clip_frames} log-mels")
    print("one thread for everyone (torch, BLAS, FFT):")
    single = single_threaded(clips, args.repeats)
    print(f"default threads (torch: {torch.get_num_threads()}):")
    default = compare(clips, args.repeats)
    for label, results in [("one thread", single), ("default threads", default)]:
        (wall_b, wall_c), (cpu_b, cpu_c) = speedups(results, 0), speedups(results, 1)
        print(f"{label}: ours vs librosa batched {wall_b:.1f}x wall, {cpu_b:.1f}x CPU; "
              f"vs librosa clip by clip {wall_c:.1f}x wall, {cpu_c:.1f}x CPU")
    ratio = min(speedups(single, 1))
    print(f"goal >= 2x over the faster librosa (one thread, CPU time): {ratio:.1f}x, {'PASS' if ratio >= 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
