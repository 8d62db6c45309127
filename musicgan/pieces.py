"""Training crops taken anywhere in a piece, in pairs from one piece.

A prepared set holds clips cut from each piece with a hop of ``clip_frames - 1`` frames, so consecutive clips of a
piece share one frame and together give the whole piece (:func:`piece_sequences`). :class:`PieceCrops` draws
windows of any length at any frame of a piece, and, for a discriminator that judges two windows at once, two
windows of the same piece: real pairs then agree in key and instrument because one piece made them, and a
generator whose pairs share a piece vector must make them agree too. That is how a discriminator that sees
two seconds can ask a generator for a key that lasts as long as a piece.
"""
from __future__ import annotations

import numpy as np
import torch

from sims.checks import check_int

__all__ = ["piece_sequences", "PieceCrops"]


def piece_sequences(mels: np.ndarray, sources, starts, hop_length: int) -> list[tuple[str, np.ndarray]]:
    """Join consecutive clips of each piece: ``[(source, (n_mels, n_frames)), ...]`` in first-seen order.

    mels: ``(n_clips, n_mels, clip_frames)``; ``starts`` the first sample of each clip. A clip continues the
    sequence when it starts exactly ``clip_frames - 1`` frames after the previous clip of the same source (its
    first frame is then the previous clip's last and is dropped); otherwise (a silent stretch was skipped) a new
    sequence of the same source begins.
    """
    mels = np.asarray(mels)
    clip_frames = mels.shape[-1]
    step = (clip_frames - 1) * hop_length
    sequences, current, name, last = [], [], None, None
    for i, (source, start) in enumerate(zip(sources, np.asarray(starts))):
        if source == name and last is not None and start - last == step:
            current.append(mels[i][:, 1:])
        else:
            if current:
                sequences.append((name, np.concatenate(current, axis=1)))
            current, name = [mels[i]], source
        last = start
    if current:
        sequences.append((name, np.concatenate(current, axis=1)))
    return sequences


class PieceCrops:
    """Windows of ``crop_frames`` frames from pieces; ``draw(n, rng, group=2)`` returns consecutive groups of
    2 windows from one piece each, as a tensor ``(n, 1, n_mels, crop_frames)`` on ``device``.

    sequences: ``[(source, (n_mels, n_frames)), ...]`` (normalised values). Pieces are drawn in proportion to
    their number of windows, windows uniformly within the piece. Raises ValueError if no sequence is at least
    ``crop_frames`` long.
    """

    def __init__(self, sequences, crop_frames: int, device="cpu"):
        check_int(crop_frames, "crop_frames", low=1)
        self.crop_frames = crop_frames
        kept = [(name, seq) for name, seq in sequences if seq.shape[-1] >= crop_frames]
        if not kept:
            raise ValueError(f"no piece is {crop_frames} frames long")
        offsets = np.cumsum([0] + [seq.shape[-1] for _, seq in kept])
        names = sorted({name for name, _ in kept})
        piece_of = np.array([names.index(name) for name, _ in kept])
        starts = [np.arange(o, o + seq.shape[-1] - crop_frames + 1) for o, (_, seq) in zip(offsets, kept)]
        order = np.argsort(np.repeat(piece_of, [len(s) for s in starts]), kind="stable")
        self.starts = torch.as_tensor(np.concatenate(starts)[order])          # window starts, grouped by piece
        counts = np.bincount(np.repeat(piece_of, [len(s) for s in starts]), minlength=len(names))
        self.first = torch.as_tensor(np.concatenate([[0], np.cumsum(counts)[:-1]]))
        self.counts = torch.as_tensor(counts)
        self.frames = torch.as_tensor(np.concatenate([seq for _, seq in kept], axis=1), dtype=torch.float32,
                                      device=device)                          # (n_mels, total_frames)
        self.n_pieces = len(names)

    def draw(self, n: int, rng: torch.Generator, *, group: int = 1) -> torch.Tensor:
        """``n`` windows; windows ``group i`` to ``group i + group - 1`` come from one piece (``n`` a multiple
        of ``group``; ValueError otherwise)."""
        check_int(group, "group", low=1)
        if n % group:
            raise ValueError(f"{n} windows cannot be drawn in groups of {group}")
        piece = torch.multinomial(self.counts.double(), n // group, replacement=True, generator=rng)
        piece = piece.repeat_interleave(group)
        pick = (torch.rand(len(piece), generator=rng, dtype=torch.float64) * self.counts[piece]).long()
        start = self.starts[self.first[piece] + pick].to(self.frames.device)
        index = start[:, None] + torch.arange(self.crop_frames, device=self.frames.device)   # (n, crop)
        return self.frames[:, index].permute(1, 0, 2).unsqueeze(1)                           # (n, 1, M, crop)
