"""How well a mel representation and its decoder give the music back: pilots, scores and the chosen chain.

The decoder is NNLS + Griffin-Lim (:func:`musicgan.mel.mel_to_audio`): a non-negative power spectrogram whose
mel projection matches the mel matrix, then phases by fast Griffin-Lim. It has no trained parameters, so it
serves a user's own recordings as well as the chorales. What decides how much of the pitch survives is the
representation: the pilots below vary the number of bands, the window and the Griffin-Lim iterations, and
score each on real clips (mel -> audio) by

- the share of spectral peaks within 10 cents of the 12-TET grid (:func:`musicgan.measures.peak_tuning`);
- spectral convergence, || |X| - |Y| ||_F / || |X| ||_F (Sturmel & Daudet 2011), and
- the log-spectral distance, the RMS over bins of the dB difference, averaged over frames (Gray & Markel
  1976), with both spectra floored 80 dB below the clip's peak so inaudible bins do not dominate;

both spectral figures on one STFT for every pilot (2048-sample window, hop 256), so they compare.

``python -m musicgan.decoding --out FILE.json`` reruns the pilots (a few minutes on one core).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from musicgan.mel import GL_ITERS, MEL_PRESETS, NNLS_ITERS, MelConfig, log_mel_spectrogram, mel_to_audio, power_spectrogram
from musicgan.stats import mean_interval

__all__ = ["EVAL_STFT", "PILOTS", "CHOSEN", "FAST", "log_spectral_distance", "spectral_convergences", "decoder_scores",
           "pilot_clips", "run_pilots"]

EVAL_STFT = MelConfig(n_fft=2048, hop_length=256)          # the STFT that SC and LSD are measured on
FLOOR_DB = 80.0
# name -> (representation, Griffin-Lim iterations, NNLS iterations)
PILOTS = {
    "64 bands, 1024 window, GL 32 (before)": (MEL_PRESETS["legacy64"], 32, 200),
    "128 bands, 2048 window, GL 32": (MelConfig(n_mels=128), 32, 200),
    "128 bands to 4 kHz, 2048 window, GL 32": (MelConfig(n_mels=128, fmax=4000.0), 32, 200),
    "160 bands, 2048 window, GL 32": (MelConfig(n_mels=160), 32, 200),
    "192 bands, 2048 window, GL 32": (MelConfig(n_mels=192), 32, 200),
    "192 bands, 2048 window, GL 64": (MelConfig(n_mels=192), 64, 200),
    "256 bands, 2048 window, GL 64": (MEL_PRESETS["pitch256"], 64, 200),
    "256 bands, 2048 window, GL 32, NNLS 50 (sampling)": (MEL_PRESETS["pitch256"], GL_ITERS, NNLS_ITERS),
}
CHOSEN = "256 bands, 2048 window, GL 64"          # the default representation, MEL_PRESETS["pitch256"]
FAST = "256 bands, 2048 window, GL 32, NNLS 50 (sampling)"   # what `sample` and the book decode with


def _magnitudes(audio) -> torch.Tensor:
    return power_spectrogram(torch.as_tensor(np.asarray(audio), dtype=torch.float64), EVAL_STFT).sqrt()


def spectral_convergences(reference, estimate) -> np.ndarray:
    """|| |X| - |Y| ||_F / || |X| ||_F per clip, ``(n,)``; audio ``(n, samples)`` of equal length."""
    x, y = _magnitudes(reference), _magnitudes(estimate)
    return (torch.linalg.norm((x - y).flatten(1), dim=1) / torch.linalg.norm(x.flatten(1), dim=1)).numpy()


def log_spectral_distance(reference, estimate, floor_db: float = FLOOR_DB) -> np.ndarray:
    """Per clip, the frame-averaged RMS over bins of 10 log10(|X|^2 / |Y|^2) in dB, ``(n,)``; both power
    spectra floored ``floor_db`` below the reference clip's peak."""
    p, q = _magnitudes(reference).square(), _magnitudes(estimate).square()
    floor = p.amax(dim=(-2, -1), keepdim=True) * 10.0 ** (-floor_db / 10.0)
    d = 10.0 * torch.log10(p + floor) - 10.0 * torch.log10(q + floor)
    return d.square().mean(-2).sqrt().mean(-1).numpy()


def decoder_scores(audio, cfg: MelConfig, gl_iters: int, nnls_iters: int = 200) -> dict:
    """Encode real clips ``(n, samples)`` with ``cfg``, decode them, and score the result per clip:
    ``{"in_tune", "in_tune_before", "sc", "lsd", "cpu_s_per_s"}`` (the last a scalar: CPU seconds of decoding
    per second of audio)."""
    from musicgan.measures import peak_tuning

    audio = np.asarray(audio, dtype=np.float32)
    mels = log_mel_spectrogram(torch.as_tensor(audio), cfg)
    start = time.process_time()
    decoded = mel_to_audio(mels, cfg, n_iter=gl_iters, nnls_iter=nnls_iters)
    cpu = time.process_time() - start
    n = min(decoded.shape[-1], audio.shape[-1])
    ref, est = audio[:, :n], decoded[:, :n]
    return {"in_tune": peak_tuning(est, cfg.sample_rate)["in_tune"],
            "in_tune_before": peak_tuning(ref, cfg.sample_rate)["in_tune"],
            "sc": spectral_convergences(ref, est), "lsd": log_spectral_distance(ref, est),
            "cpu_s_per_s": cpu / (est.size / cfg.sample_rate)}


def pilot_clips(renderer: str = "harmonic", *, n_pieces: int = 8, clips_per_piece: int = 4, seconds: float = 2.0,
                seed: int = 0, program: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Real clips ``(n, samples)`` of ``seconds`` at 16 kHz from ``n_pieces`` chorales drawn with ``seed``,
    and the piece of each clip. ``renderer``: "harmonic" or "fluidsynth" (General MIDI ``program``)."""
    from musicgan.chorales import chorale_paths, chorale_to_midi, render_fluidsynth, synthesize_harmonic

    sr = MEL_PRESETS["pitch256"].sample_rate
    paths = chorale_paths()
    chosen = np.random.default_rng(seed).choice(len(paths), n_pieces, replace=False)
    length = int(seconds * sr)
    clips, groups = [], []
    for i in chosen:
        midi = chorale_to_midi(paths[i]) if program is None else chorale_to_midi(paths[i], program=program)
        audio = synthesize_harmonic(midi, sr) if renderer == "harmonic" else render_fluidsynth(midi, sr)
        starts = np.linspace(0, len(audio) - length - sr, clips_per_piece).astype(int)
        clips += [audio[s:s + length] for s in starts]
        groups += [paths[i].name] * clips_per_piece
    return np.stack(clips).astype(np.float32), np.array(groups)


def run_pilots(clips, groups, pilots=None, *, rng=0) -> dict:
    """``{pilot name: {measure: Interval, "cpu_s_per_s": float}}`` for each pilot on the same clips, real audio
    included as ``"real audio (no decoding)"`` for the tuning measure."""
    table = {}
    for name, (cfg, gl_iters, nnls_iters) in (pilots or PILOTS).items():
        scores = decoder_scores(clips, cfg, gl_iters, nnls_iters)
        if not table:
            table["real audio (no decoding)"] = {"in_tune": mean_interval(scores["in_tune_before"], groups, rng=rng)}
        table[name] = {k: mean_interval(scores[k], groups, rng=rng) for k in ("in_tune", "sc", "lsd")}
        table[name]["cpu_s_per_s"] = scores["cpu_s_per_s"]
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicgan.decoding", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the pilot tables")
    parser.add_argument("--pieces", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    report = {"chosen": CHOSEN, "fast": FAST, "harmonic": run_pilots(*pilot_clips("harmonic", n_pieces=args.pieces))}
    try:               # music that is not the synthesised chorales: General MIDI organ and piano
        for label, program in (("fluidsynth organ", 19), ("fluidsynth piano", 0)):
            clips = pilot_clips("fluidsynth", n_pieces=args.pieces, program=program)
            report[label] = run_pilots(*clips, pilots={k: PILOTS[k] for k in (next(iter(PILOTS)), CHOSEN, FAST)})
    except RuntimeError as err:
        print(f"fluidsynth pilots skipped: {err}", file=sys.stderr)
    report["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"decoder pilots -> {args.out} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
