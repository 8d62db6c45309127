"""Generators and discriminators over normalised log-mel clips of shape (batch, 1, n_mels, n_frames) in [-1, 1].

Two generator families, each of which makes pieces of any length:

- ``ConvSeqGenerator`` keeps the piece 2-D and is fully convolutional along time: a sequence of latent vectors
  (one per 16 frames) plus one piece vector -> 1x1 convolution -> (C, rows / 16, L) -> four stages that double
  rows and frames (nearest-neighbour upsampling and a 3x3 convolution), as in DCGAN (Radford et al.) and SpecGAN (Donahue et al.), with the time axis
  unbounded as in Musika (Pasini & Schlueter 2022): a longer latent sequence is a longer piece, one convolution
  over all of it, so there are no chunks and no seams. ``ConvGenerator`` is the earlier fixed-size version
  (z -> dense -> (C, 4, 4) -> ...), kept for the runs trained with it.
- ``RecurrentGenerator`` treats the piece as a sequence of frames, as C-RNN-GAN (Mogren) treats music: an LSTM
  or GRU reads one random vector per frame and emits one frame per step; it runs for as many steps as asked,
  carrying its state.

Either emits the mel bands directly (``output="mel"``, tanh) or one log-activation per equal-tempered note
that :class:`musicgan.note_synth.NoteSynth` renders into the mel matrix (``output="notes"``).

Discriminators: ``ConvDiscriminator`` (strided convolutions, no normalisation layers so that R1 and the
gradient penalty act on a per-sample function) and ``RecurrentDiscriminator`` (bidirectional LSTM/GRU
over frames, C-RNN-GAN's choice). Both accept PacGAN packing: ``pack`` clips stacked as channels.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from musicgan.note_synth import N_NOISE, START_LOG_ACTIVATION, SYNTH_NOTES, NoteSynth
from sims.checks import check_choice, check_int

OUTPUTS = ("mel", "notes")

__all__ = ["ConvGenerator", "ConvSeqGenerator", "RecurrentGenerator", "ConvDiscriminator", "RecurrentDiscriminator",
           "build_generator", "build_discriminator", "count_parameters", "pack_clips"]


def _n_doublings(n_mels: int, n_frames: int) -> int:
    """Number of stride-2 stages between a 4-pixel side and the clip's shorter side."""
    check_int(n_mels, "n_mels", low=8)
    check_int(n_frames, "n_frames", low=8)
    n_up = int(round(math.log2(min(n_mels, n_frames) / 4)))
    for name, size in (("n_mels", n_mels), ("n_frames", n_frames)):
        if size % (2 ** n_up) or size // 2 ** n_up < 4:
            raise ValueError(f"{name} must be a multiple of {2 ** n_up} for the convolutional nets, got {size}")
    return n_up


class PixelNorm(nn.Module):
    """Scale each pixel's feature vector to unit RMS (ProGAN). Unlike batch norm it keeps no running
    statistics, so the moving average of G's weights samples exactly like G does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ConvGenerator(nn.Module):
    """z (batch, latent_dim) -> clip (batch, 1, n_mels, n_frames), DCGAN-style transposed convolutions."""

    def __init__(self, latent_dim: int, n_mels: int, n_frames: int, channels: int = 32):
        super().__init__()
        n_up = _n_doublings(n_mels, n_frames)
        self.latent_shape = (latent_dim,)
        self.start = (n_mels // 2 ** n_up, n_frames // 2 ** n_up)
        width = channels * 2 ** (n_up - 1)                     # widest at 4x4, halving as the clip grows
        self.project = nn.Sequential(nn.Linear(latent_dim, width * self.start[0] * self.start[1]),
                                     nn.Unflatten(1, (width, *self.start)), nn.LeakyReLU(0.2), PixelNorm())
        layers = []
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1),
                       nn.LeakyReLU(0.2), PixelNorm()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z))                 # (B, 1, n_mels, n_frames)


class ConvSeqGenerator(nn.Module):
    """z (batch, 1 + L, latent_dim) -> piece (batch, 1, n_mels, 16 (L - 2)): fully convolutional along time.

    ``z[:, 0]`` is the piece vector, given to every position (what stays the same for the whole piece: key,
    instrument); ``z[:, 1:]`` are L local vectors, one per 16 frames. Four stages (upsample x2, 3x3 convolution)
    double rows and frames; the frames made from the first and last local vector, which lack a neighbour on
    one side, are cut, so every frame kept has context on both sides, in training as in a 30-s piece.
    """

    frames_per_latent = 16
    train_context = 16            # the trainer draws this many extra frames and keeps a random window

    def __init__(self, latent_dim: int, n_mels: int, n_frames: int, channels: int = 16, output: str = "notes",
                 max_notes: int = 0):
        super().__init__()
        check_choice(output, "output", OUTPUTS)
        rows = len(SYNTH_NOTES) + N_NOISE if output == "notes" else n_mels
        if rows % 16:
            raise ValueError(f"ConvSeqGenerator needs rows (mel bands or notes) divisible by 16, got {rows}")
        self.latent_dim, self.output, self.rows0 = latent_dim, output, rows // 16
        self.latent_shape = self.latent_shape_for(n_frames)
        width = channels * 8
        self.project = nn.Conv1d(2 * latent_dim, width * self.rows0, 1)
        # nearest-neighbour upsampling then a 3x3 convolution, not a stride-2 transposed convolution: the latter's
        # uneven overlap flickers every other frame (a 29-onsets-per-second pilot; Odena et al. 2016)
        layers = [nn.LeakyReLU(0.2), PixelNorm()]
        for stage in range(4):
            out = 1 if stage == 3 else width // 2
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, out, 3, padding=1)]
            if stage < 3:
                layers += [nn.LeakyReLU(0.2), PixelNorm()]
            width = out
        self.upsample = nn.Sequential(*layers)
        self.synth = NoteSynth(n_mels, max_notes=max_notes) if output == "notes" else None
        if self.synth is not None:           # all 48 notes equally loud at the start is a dense cluster
            nn.init.constant_(layers[-1].bias, START_LOG_ACTIVATION)

    def latent_shape_for(self, n_frames: int) -> tuple[int, int]:
        """Latent shape that yields at least ``n_frames`` frames (one more vector per 16 frames, plus 2 edges)."""
        return (1 + -(-n_frames // self.frames_per_latent) + 2, self.latent_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        piece, local = z[:, :1], z[:, 1:]                                     # (B, 1, d), (B, L, d)
        h = torch.cat([local, piece.expand_as(local)], dim=2).transpose(1, 2)  # (B, 2d, L)
        h = self.project(h)                                                   # (B, width * rows0, L)
        h = h.view(h.shape[0], -1, self.rows0, h.shape[-1])                   # (B, width, rows0, L)
        out = self.upsample(h)[..., self.frames_per_latent:-self.frames_per_latent]   # (B, 1, rows, 16 (L - 2))
        return self.synth(out.squeeze(1)) if self.synth is not None else torch.tanh(out)


class RecurrentGenerator(nn.Module):
    """z (batch, n_frames, latent_dim) -> clip (batch, 1, n_mels, n_frames), one mel frame per step.

    Each step reads its own random vector, as in C-RNN-GAN; the first frame's vector also sets the
    initial state, so that a clip-level choice (key, chord) is available from the first step.
    """

    train_context = 64            # the trainer runs up to this many extra steps first (a random burn-in)

    def __init__(self, latent_dim: int, n_mels: int, n_frames: int, hidden: int = 256, layers: int = 2,
                 cell: str = "lstm", clip_code: bool = False, output: str = "mel", max_notes: int = 0):
        super().__init__()
        check_choice(cell, "cell", ("lstm", "gru"))
        check_choice(output, "output", OUTPUTS)
        self.latent_dim, self.output = latent_dim, output
        self.latent_shape = (n_frames, latent_dim)
        self.cell, self.layers, self.hidden, self.clip_code = cell, layers, hidden, clip_code
        n_states = 2 if cell == "lstm" else 1                  # LSTM carries (h, c), GRU only h
        self.initial_state = nn.Linear(latent_dim, n_states * layers * hidden)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(latent_dim * (2 if clip_code else 1), hidden, num_layers=layers, batch_first=True)
        self.to_frame = nn.Linear(hidden, len(SYNTH_NOTES) + N_NOISE if output == "notes" else n_mels)
        self.synth = NoteSynth(n_mels, max_notes=max_notes) if output == "notes" else None
        if self.synth is not None:
            nn.init.constant_(self.to_frame.bias, START_LOG_ACTIVATION)

    def latent_shape_for(self, n_frames: int) -> tuple[int, int]:
        """One vector per frame: ``(n_frames, latent_dim)``."""
        return (n_frames, self.latent_dim)

    def _state(self, z0: torch.Tensor):
        states = torch.tanh(self.initial_state(z0))            # (B, n_states * layers * hidden)
        states = states.view(z0.shape[0], -1, self.layers, self.hidden).permute(1, 2, 0, 3).contiguous()
        return (states[0], states[1]) if self.cell == "lstm" else states[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps = torch.cat([z, z[:, :1].expand_as(z)], dim=2) if self.clip_code else z
        frames, _ = self.rnn(steps, self._state(z[:, 0]))      # (B, n_frames, hidden)
        out = self.to_frame(frames).transpose(1, 2)            # (B, n_mels or n_notes, n_frames)
        return self.synth(out) if self.synth is not None else torch.tanh(out).unsqueeze(1)


def pack_clips(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN: (batch, 1, n_mels, n_frames) -> (batch // pack, pack, n_mels, n_frames)."""
    if x.shape[0] % pack:
        raise ValueError(f"batch size {x.shape[0]} is not a multiple of pack={pack}")
    return x.reshape(x.shape[0] // pack, pack, *x.shape[2:])


class MinibatchStd(nn.Module):
    """Append the mean standard deviation of the features over groups of ``group`` consecutive samples as one
    more channel (ProGAN): a collapsed generator's samples look alike, so D can see it. The trainer passes real
    and generated clips in separate halves of a batch whose sizes are multiples of the group."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, self.group + 1) if n % d == 0)
        spread = x.view(n // g, g, c, h, w).std(dim=1, unbiased=False).mean(dim=(1, 2, 3))   # (n // g,)
        return torch.cat([x, spread.repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w)], dim=1)


class ConvDiscriminator(nn.Module):
    """(batch, pack, n_mels, n_frames) -> logits (batch,); strided 4x4 convolutions down to 4 pixels a side."""

    def __init__(self, n_mels: int, n_frames: int, channels: int = 32, pack: int = 1, minibatch_std: bool = False):
        super().__init__()
        n_down = _n_doublings(n_mels, n_frames)
        layers, width_in, width = [], pack, channels
        for _ in range(n_down):
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width_in, width = width, width * 2
        end = (n_mels // 2 ** n_down) * (n_frames // 2 ** n_down)
        if minibatch_std:
            layers.append(MinibatchStd())
            width_in += 1
        self.features = nn.Sequential(*layers)
        self.score = nn.Sequential(nn.Flatten(), nn.Linear(width_in * end, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x)).squeeze(1)

    def feature_vector(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer, flattened: (batch, pack, n_mels, n_frames) -> (batch, d)."""
        return self.features(x).flatten(1)


class RecurrentDiscriminator(nn.Module):
    """(batch, pack, n_mels, n_frames) -> logits (batch,): a bidirectional RNN over frames, scores averaged."""

    def __init__(self, n_mels: int, hidden: int = 256, layers: int = 2, cell: str = "lstm", pack: int = 1):
        super().__init__()
        check_choice(cell, "cell", ("lstm", "gru"))
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(pack * n_mels, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self._frames(x)).mean(dim=(1, 2))   # one decision per frame, averaged (C-RNN-GAN)

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.flatten(1, 2).transpose(1, 2)               # (B, n_frames, pack * n_mels)
        # cuDNN's RNN has no double backward, which R1 and the gradient penalty need
        with torch.backends.cudnn.flags(enabled=not x.is_cuda):
            out, _ = self.rnn(frames)                          # (B, n_frames, 2 * hidden)
        return out

    def feature_vector(self, x: torch.Tensor) -> torch.Tensor:
        """The RNN's outputs averaged over frames: (batch, pack, n_mels, n_frames) -> (batch, 2 * hidden)."""
        return self._frames(x).mean(dim=1)


def build_generator(model_cfg, n_mels: int, n_frames: int) -> nn.Module:
    """The generator named by ``model_cfg.generator`` for clips of shape (n_mels, n_frames)."""
    if model_cfg.generator == "conv" and model_cfg.conv_latent == "sequence":
        return ConvSeqGenerator(model_cfg.latent_dim, n_mels, n_frames, model_cfg.g_channels, model_cfg.output,
                                model_cfg.max_notes)
    if model_cfg.generator == "conv":
        if model_cfg.output != "mel":
            raise ValueError("model.output='notes' needs model.conv_latent='sequence' for the conv generator")
        return ConvGenerator(model_cfg.latent_dim, n_mels, n_frames, model_cfg.g_channels)
    return RecurrentGenerator(model_cfg.latent_dim, n_mels, n_frames, model_cfg.rnn_hidden,
                              model_cfg.rnn_layers, cell=model_cfg.generator, clip_code=model_cfg.rnn_clip_code,
                              output=model_cfg.output, max_notes=model_cfg.max_notes)


def build_discriminator(model_cfg, n_mels: int, n_frames: int, pack: int = 1) -> nn.Module:
    """The discriminator named by ``model_cfg.discriminator``, judging ``pack`` clips at once."""
    if model_cfg.discriminator == "conv":
        return ConvDiscriminator(n_mels, n_frames, model_cfg.d_channels, pack, model_cfg.d_minibatch_std)
    return RecurrentDiscriminator(n_mels, model_cfg.rnn_hidden, model_cfg.rnn_layers,
                                  cell=model_cfg.discriminator, pack=pack)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
