"""Which part of a recurrent generator's noise does it use? A diagnosis of its mode collapse.

The recurrent generator reads one random vector per frame, ``z[:, t]``; the first one also sets the initial
state (and, with ``model.rnn_clip_code``, reaches every step). ``latent_sensitivity`` draws clips in which
only one part of the noise varies across the set and measures how diverse each set is with |D|_self. A
generator that ignores its per-step noise gives nearly identical clips when only that noise varies.
"""
from __future__ import annotations

import numpy as np
import torch

from musicgan.metrics import nearest_neighbour_distances
from sims.checks import check_int

__all__ = ["latent_sensitivity"]


@torch.no_grad()
def latent_sensitivity(net_G, n: int = 500, seed: int = 0) -> dict[str, float]:
    """|D|_self of ``n`` clips of a recurrent ``net_G`` when all noise varies, only the first frame's vector
    varies (``first``), or only the other frames' vectors vary (``per_step``); the rest is shared by the set.

    ``net_G.latent_shape`` must be ``(n_frames, latent_dim)``. Returns ``{"all", "first", "per_step"}``.
    """
    check_int(n, "n", low=2)
    if len(net_G.latent_shape) != 2:
        raise ValueError(f"net_G must read one vector per frame, got latent_shape {net_G.latent_shape}")
    z = torch.randn(n, *net_G.latent_shape, generator=torch.Generator().manual_seed(seed))
    first_only, per_step_only = z.clone(), z.clone()
    first_only[:, 1:] = z[0, 1:]             # every clip shares the per-step noise of clip 0
    per_step_only[:, 0] = z[0, 0]            # every clip shares the first vector of clip 0
    result = {}
    for name, latent in (("all", z), ("first", first_only), ("per_step", per_step_only)):
        clips = net_G(latent).squeeze(1).numpy()
        result[name] = float(np.mean(nearest_neighbour_distances(clips)))
    return result
