"""Hand-written forward and backward passes of the batched PacGAN nets: the training step the book runs.

``sims.pacgan.train_step`` states the update with autograd and is the reference; :func:`fast_train_step`
computes the same update (tested equal to rounding) about twice as fast on a CPU, for three reasons:

- Autograd backpropagates the discriminator twice through the generated packs, once for its own loss
  (weight gradients) and once for the generator's (input gradients). Without minibatch features every
  logit depends on its own pack only, so the backward signal of a pack is its logit's gradient times one
  scalar: one pass with unit signals serves both losses, each weighting the rows with its own scalars.
- Batch normalisation and leaky ReLU get their closed-form backward passes (three or four tensor operations
  instead of the ten or so autograd records for the hand-written batch norm of ``pacgan.generate``).
- Real and generated packs go through the discriminator as one batch: half the kernel calls.

The R1 penalty's gradient, a second derivative, is written out too (``r1_backward``, and
``r1_backward_minibatch`` where minibatch features add a smooth path through the distances). Maxout
discriminators (``d_pieces > 0``, the paper's, not trained in the book) fall back to the reference step.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sims import pacgan

__all__ = ["supports", "generator_forward", "generator_backward", "discriminator_forward",
           "discriminator_backward", "r1_backward", "r1_backward_minibatch", "fast_train_step"]

LEAK = 0.2          # leaky ReLU slope of the discriminator, as in pacgan.discriminate
BN_EPS = 1e-5       # as in pacgan.generate


def supports(config) -> bool:
    """Whether :func:`fast_train_step` implements this configuration (leaky-ReLU discriminators)."""
    return config.d_pieces == 0


def generator_forward(params, z, depth: int):
    """``pacgan.generate`` keeping what the backward pass needs: z (S, N, latent) -> (samples (S, N, 2), cache)."""
    h, cache = z, []
    for i in range(depth):
        a = torch.bmm(h, params[f"g{i}.w"])                          # (S, N, H)
        c = a - a.mean(1, keepdim=True)
        r = torch.rsqrt(c.square().mean(1, keepdim=True) + BN_EPS)   # (S, 1, H)
        scale = r * params[f"bn{i}.gain"]
        out = torch.addcmul(params[f"bn{i}.shift"], c, scale).clamp_(min=0)
        cache.append((h, c, r, scale, out))
        h = out
    return torch.baddbmm(params["gout0.b"], h, params["gout0.w"]), (cache, h)


def generator_backward(params, cache, grad_out) -> dict:
    """Gradients of every generator weight given d(loss)/d(samples) ``grad_out`` (S, N, 2)."""
    layers, h = cache
    n = grad_out.shape[1]
    grads = {"gout0.w": torch.bmm(h.transpose(1, 2), grad_out), "gout0.b": grad_out.sum(1, keepdim=True)}
    dh = torch.bmm(grad_out, params["gout0.w"].transpose(1, 2))
    for i in reversed(range(len(layers))):
        h_in, c, r, scale, out = layers[i]
        dy = torch.ops.aten.threshold_backward(dh, out, 0)            # ReLU
        sum_dy = dy.sum(1, keepdim=True)                              # (S, 1, H)
        sum_dyc = (dy * c).sum(1, keepdim=True)
        grads[f"bn{i}.gain"], grads[f"bn{i}.shift"] = sum_dyc * r, sum_dy
        # batch norm: da = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = c * r
        da = torch.addcmul(-scale * sum_dy / n, dy, scale).addcmul_(c, -scale * r * r * sum_dyc / n)
        grads[f"g{i}.w"] = torch.bmm(h_in.transpose(1, 2), da)
        if i:
            dh = torch.bmm(da, params[f"g{i}.w"].transpose(1, 2))
    return grads


def discriminator_forward(params, packs, fourier, config):
    """``pacgan.discriminate`` with its cache: packs (S, R, 2 * pack) -> (logits (S, R), cache).

    ``fourier`` holds the frequencies b of the embedding; minibatch features compare each row with the
    others of its group of ``kernel_group`` consecutive rows (real and generated rows must not share one).
    """
    n_members, rows, _ = packs.shape
    samples = packs.reshape(n_members, -1, 2)                          # (S, R * pack, 2)
    fourier_2pi = fourier * (2 * math.pi)
    angles = torch.bmm(samples, fourier_2pi)
    sin, cos = torch.sin(angles), torch.cos(angles)
    h = torch.cat([samples, sin, cos], dim=-1).reshape(n_members, rows, -1)
    acts, pre = [], []
    for i in range(config.d_depth):
        a = torch.baddbmm(params[f"d{i}.b"], h, params[f"d{i}.w"])
        acts.append(h)
        pre.append(a)
        h = F.leaky_relu(a, LEAK)
    top, mb = h, None
    if config.minibatch_kernels:
        mb = _minibatch_forward(h, params["T0.w"], config)
        top = torch.cat([h, mb[0]], dim=-1)
    logits = torch.baddbmm(params["dout0.b"], top, params["dout0.w"]).squeeze(-1)
    return logits, {"acts": acts, "pre": pre, "h_last": h, "top": top, "mb": mb, "sin": sin, "cos": cos,
                    "fourier_2pi": fourier_2pi}


def _minibatch_forward(h, kernels, config):
    """o(x_i)_b of ``pacgan._minibatch_similarity`` and what its backward pass reuses.

    The L1 distances come from ``torch.cdist`` on blocks of one group and one kernel, (S*G*B, g, C), without
    the (S, G, g, g, B, C) tensor of differences that the reference builds.
    """
    n_members, rows, _ = h.shape
    # as the reference, which sees the batch // pack real (or generated) packs alone
    group, n_kernels = min(config.kernel_group, config.batch // config.pack), config.minibatch_kernels
    m = torch.bmm(h, kernels).view(n_members, rows // group, group, n_kernels, -1)
    blocks = m.transpose(2, 3).reshape(-1, group, m.shape[-1]).contiguous()   # (S*G*B, g, C)
    dist = torch.cdist(blocks, blocks, p=1)                                   # (S*G*B, g, g)
    near = torch.exp(-dist)
    o = (near.sum(-1) - 1.0).view(n_members, rows // group, n_kernels, group).transpose(2, 3)
    return o.reshape(n_members, rows, n_kernels), (blocks, dist, near)


def _minibatch_backward(grad_o, saved, n_members: int):
    """d(loss)/dM (S, R, B*C) from d(loss)/do (S, R, B), for the last R rows of those ``saved`` forward.

    dM_k = -sum_j exp(-|M_k - M_j|_1) (go_k + go_j) sign(M_k - M_j): the weights are symmetric in (k, j), so
    one call to cdist's own backward gives both the k and the j terms.
    """
    blocks, dist, near = saved
    group = blocks.shape[1]
    rows, n_kernels = grad_o.shape[1], grad_o.shape[2]
    go = _to_blocks(grad_o, group, n_kernels)[..., 0]                                   # (blocks, g)
    pick = _member_blocks(n_members, blocks.shape[0] // n_members, rows // group * n_kernels, last=True)
    weight = near[pick] * (go.unsqueeze(2) + go.unsqueeze(1))                          # (blocks, g, g)
    dm = -torch.ops.aten._cdist_backward(weight, blocks[pick], blocks[pick], 1.0, dist[pick])
    return _from_blocks(dm, n_members, n_kernels)


def _member_blocks(n_members: int, per_member: int, keep: int, last: bool):
    """Index of the last (or first) ``keep`` blocks of each member's ``per_member`` in (S * per_member) order."""
    if keep == per_member:
        return slice(None)
    start = per_member - keep if last else 0
    return (torch.arange(n_members)[:, None] * per_member + torch.arange(start, start + keep)).flatten()


def discriminator_backward(params, cache, config, weight_d, weight_g):
    """Weight gradients of sum(weight_d * logits) and the input gradient of sum(weight_g * logits[:, -Rg:]).

    weight_d (S, R): d(loss_D)/d(logit) of every row; weight_g (S, Rg): d(loss_G)/d(logit) of the last Rg
    rows (the generated packs). Returns (gradients by name, d(loss_G)/d(packs) (S, Rg, 2 * pack), and for
    a discriminator without minibatch features the unit backward signals d(logit)/d(pre-activation) of
    every layer, (S, R, width) each, which :func:`r1_backward` reuses; else None).
    """
    if config.minibatch_kernels:
        return (*_minibatch_disc_backward(params, cache, config, weight_d, weight_g), None)
    acts, pre, top = cache["acts"], cache["pre"], cache["top"]
    rows_g = weight_g.shape[1]
    w_d = weight_d.unsqueeze(-1)
    grads = {"dout0.w": torch.bmm(weight_d.unsqueeze(1), top).transpose(1, 2),
             "dout0.b": weight_d.sum(1, keepdim=True).unsqueeze(-1)}
    # a logit depends on its own pack only: backpropagate unit signals, weight the rows per loss
    delta, das = params["dout0.w"].transpose(1, 2), [None] * config.d_depth   # (S, 1, A): every row
    for i in reversed(range(config.d_depth)):
        das[i] = _leaky_backward(delta, pre[i])                         # (S, R, A)
        _layer_grads(grads, i, acts[i], das[i] * w_d)
        if i:
            delta = torch.bmm(das[i], params[f"d{i}.w"].transpose(1, 2))
    da_g = das[0][:, -rows_g:] * weight_g.unsqueeze(-1)
    grad_in = torch.bmm(da_g, params["d0.w"].transpose(1, 2))
    return grads, _embedding_backward(grad_in, cache, slice(-rows_g * _pack(cache, grad_in), None)), das


def r1_backward(params, cache, das, config, n_real: int, coef: float):
    """R1 term ``coef * sum_members mean_packs |grad_x logit|^2`` of the first ``n_real`` rows and its weight gradients.

    The input gradient is the unit backward signal ``das`` carried through the first layer and the
    embedding; the leaky ReLU's slopes are constant almost everywhere, so the penalty's gradient is a
    backward pass through that linear chain ("double backward" by hand): no gradient for the biases.
    """
    penalty, grads, bar = _r1_chain(params, cache, [d[:, :n_real] for d in das], config, coef)
    grads["dout0.w"] = bar.sum(1).unsqueeze(-1)
    return penalty, grads


def _r1_chain(params, cache, da, config, coef: float):
    """Penalty, its gradients for the layer weights, and d(penalty)/d(unit signal at the last hidden layer)."""
    n_real = da[0].shape[1]
    grad_e = torch.bmm(da[0], params["d0.w"].transpose(1, 2))         # (S, P, (2 + 2F) * pack)
    n_samples = n_real * _pack(cache, grad_e)
    sin, cos = cache["sin"][:, :n_samples], cache["cos"][:, :n_samples]
    grad_x = _embedding_backward(grad_e, cache, slice(0, n_samples))   # (S, P, 2 * pack)
    penalty = coef * grad_x.square().sum((1, 2)).sum() / n_real
    bar_x = (2 * coef / n_real) * grad_x.reshape(grad_x.shape[0], n_samples, 2)
    bar_angles = torch.bmm(bar_x, cache["fourier_2pi"])                # (S, n, F)
    bar = torch.cat([bar_x, cos * bar_angles, -sin * bar_angles], dim=-1).reshape(grad_e.shape)
    grads = {}
    for i in range(config.d_depth):
        grads[f"d{i}.w"] = torch.bmm(bar.transpose(1, 2), da[i])
        bar = _leaky_backward(torch.bmm(bar, params[f"d{i}.w"]), cache["pre"][i][:, :n_real])
    return penalty, grads, bar


def r1_backward_minibatch(params, cache, config, n_real: int, coef: float):
    """:func:`r1_backward` for a discriminator with minibatch features, whose logits mix the rows of a group.

    With M = h T, E = exp(-|M_k - M_j|_1) and s = sign(M_k - M_j), the unit signal at h is
    w_h + (w_o Q) T^T, Q_k = -2 sum_j E_kj s_kj. Unlike the leaky ReLU's slopes, E depends smoothly on h, so
    the penalty's gradient has a second path: through Q and E back to M, then down the forward pass.
    """
    acts, pre, width = cache["acts"], cache["pre"], config.d_width
    n_members, n_kernels = acts[0].shape[0], config.minibatch_kernels
    w_h, w_o = params["dout0.w"][:, :width, 0], params["dout0.w"][:, width:, 0]        # (S, A), (S, B)
    kernels, (blocks, dist, near) = params["T0.w"], cache["mb"][1]
    group = blocks.shape[1]
    pick = _member_blocks(n_members, blocks.shape[0] // n_members, n_real // group * n_kernels, last=False)
    blocks, dist, near = blocks[pick], dist[pick], near[pick]
    q = _from_blocks(-2 * torch.ops.aten._cdist_backward(near, blocks, blocks, 1.0, dist), n_members, n_kernels)
    w_o_flat = w_o.repeat_interleave(blocks.shape[2], dim=1).unsqueeze(1)             # (S, 1, B * C)
    d_m = q * w_o_flat
    delta, da = w_h.unsqueeze(1) + torch.bmm(d_m, kernels.transpose(1, 2)), [None] * config.d_depth
    for i in reversed(range(config.d_depth)):
        da[i] = _leaky_backward(delta, pre[i][:, :n_real])
        delta = torch.bmm(da[i], params[f"d{i}.w"].transpose(1, 2))
    penalty, grads, bar = _r1_chain(params, cache, da, config, coef)
    bar_m = torch.bmm(bar, kernels)                                                     # d(penalty)/d(d_m)
    grad_w_o = (bar_m * q).view(n_members, n_real, n_kernels, -1).sum((1, 3))
    grads["dout0.w"] = torch.cat([bar.sum(1), grad_w_o], dim=1).unsqueeze(-1)
    m_bar = _distance_path(bar_m * w_o_flat, (blocks, dist, near), n_members, n_kernels)
    grads["T0.w"] = (torch.bmm(bar.transpose(1, 2), d_m)
                     + torch.bmm(cache["h_last"][:, :n_real].transpose(1, 2), m_bar))
    h_bar = torch.bmm(m_bar, kernels.transpose(1, 2))                                   # down the forward pass
    for i in reversed(range(config.d_depth)):
        a_bar = _leaky_backward(h_bar, pre[i][:, :n_real])
        grads[f"d{i}.w"] = grads[f"d{i}.w"] + torch.bmm(acts[i][:, :n_real].transpose(1, 2), a_bar)
        grads[f"d{i}.b"] = a_bar.sum(1, keepdim=True)
        if i:
            h_bar = torch.bmm(a_bar, params[f"d{i}.w"].transpose(1, 2))
    return penalty, grads


def _distance_path(q_bar, saved, n_members: int, n_kernels: int):
    """d(penalty)/dM through E in Q_k = -2 sum_j E_kj s_kj, given d(penalty)/dQ ``q_bar`` (S, P, B * C)."""
    blocks, dist, near = saved
    q_bar = _to_blocks(q_bar, blocks.shape[1], n_kernels)                               # (blocks, g, C)
    sign = torch.sign(blocks.unsqueeze(2) - blocks.unsqueeze(1))                        # (blocks, k, j, C)
    dist_bar = 2 * near * (sign * q_bar.unsqueeze(2)).sum(-1)                           # d(penalty)/d(dist_kj)
    # dist_kj moves with M_k and M_j: cdist's backward with the symmetrised weights gives both
    m_bar = torch.ops.aten._cdist_backward((dist_bar + dist_bar.transpose(1, 2)).contiguous(), blocks, blocks,
                                           1.0, dist)
    return _from_blocks(m_bar, n_members, n_kernels)


def _to_blocks(x, group: int, n_kernels: int):
    """(S, R, B * C) -> (S * R/g * B, g, C): one block per group of rows and kernel, as cdist wants."""
    n_members, rows, _ = x.shape
    blocks = x.reshape(n_members, rows // group, group, n_kernels, -1).transpose(2, 3)
    return blocks.reshape(-1, group, x.shape[-1] // n_kernels)


def _from_blocks(y, n_members: int, n_kernels: int):
    """Inverse of :func:`_to_blocks`: (S * G * B, g, C) -> (S, G * g, B * C)."""
    _, group, n_features = y.shape
    y = y.view(n_members, -1, n_kernels, group, n_features).transpose(2, 3)
    return y.reshape(n_members, -1, n_kernels * n_features)


def _pack(cache, grad_embedded) -> int:
    """Samples per row of a (S, R, (2 + 2F) * pack) tensor."""
    return grad_embedded.shape[-1] // (2 + 2 * cache["sin"].shape[-1])


def _minibatch_disc_backward(params, cache, config, weight_d, weight_g):
    """Minibatch features tie the rows of a group: one weighted backward pass for each loss."""
    acts, pre, top = cache["acts"], cache["pre"], cache["top"]
    width = config.d_width
    w_out = params["dout0.w"].transpose(1, 2)                          # (S, 1, A + B)
    grads = {"dout0.w": torch.bmm(weight_d.unsqueeze(1), top).transpose(1, 2),
             "dout0.b": weight_d.sum(1, keepdim=True).unsqueeze(-1)}
    saved = cache["mb"][1]
    n_members = weight_d.shape[0]

    def top_delta(weight):
        """d(sum(weight * logits))/d(h) of the last hidden layer, for the last ``weight.shape[1]`` rows."""
        signal = weight.unsqueeze(-1) * w_out                           # (S, rows, A + B)
        dm = _minibatch_backward(signal[..., width:], saved, n_members)
        return signal[..., :width] + torch.bmm(dm, params["T0.w"].transpose(1, 2)), dm

    delta, dm = top_delta(weight_d)
    grads["T0.w"] = torch.bmm(cache["h_last"].transpose(1, 2), dm)
    for i in reversed(range(config.d_depth)):
        da = _leaky_backward(delta, pre[i])
        _layer_grads(grads, i, acts[i], da)
        if i:
            delta = torch.bmm(da, params[f"d{i}.w"].transpose(1, 2))
    rows_g = weight_g.shape[1]
    delta, _ = top_delta(weight_g)
    for i in reversed(range(config.d_depth)):
        delta = torch.bmm(_leaky_backward(delta, pre[i][:, -rows_g:]), params[f"d{i}.w"].transpose(1, 2))
    return grads, _embedding_backward(delta, cache, slice(-rows_g * _pack(cache, delta), None))


def _leaky_backward(delta, pre):
    """delta x the leaky ReLU's slope at the pre-activations ``pre``; ``delta`` may broadcast over rows.

    aten's own kernel: on CPU it is an order of magnitude faster than a bool mask and torch.where.
    """
    return torch.ops.aten.leaky_relu_backward(delta.expand_as(pre), pre, LEAK, False)


def _layer_grads(grads, i, h_in, da) -> None:
    grads[f"d{i}.w"] = torch.bmm(h_in.transpose(1, 2), da)
    grads[f"d{i}.b"] = da.sum(1, keepdim=True)


def _embedding_backward(grad_embedded, cache, samples: slice):
    """d/dx of the Fourier embedding: (S, R, (2 + 2F) * pack) -> (S, R, 2 * pack); ``samples`` picks its rows'
    samples in the cached sines and cosines."""
    n_members, rows, _ = grad_embedded.shape
    sin, cos = cache["sin"][:, samples], cache["cos"][:, samples]
    n_features = sin.shape[-1]
    per_sample = grad_embedded.reshape(n_members, -1, 2 + 2 * n_features)
    g_sin, g_cos = per_sample[..., 2:2 + n_features], per_sample[..., 2 + n_features:]
    # d sin(2 pi x.b)/dx = 2 pi b cos(.), d cos(2 pi x.b)/dx = -2 pi b sin(.)
    g_angles = g_sin * cos - g_cos * sin
    x_grad = torch.baddbmm(per_sample[..., :2], g_angles, cache["fourier_2pi"].transpose(1, 2))
    return x_grad.reshape(n_members, rows, -1)


@torch.no_grad()
def fast_train_step(group, z, real, penalise: bool = True) -> tuple[float, float]:
    """``pacgan.train_step`` with hand-written gradients: same arguments, same update, same return value."""
    c = group.config
    n_members, n_packs = z.shape[0], c.batch // c.pack
    fake, g_cache = generator_forward(group.g_params, z, c.g_depth)
    packs = torch.cat([real.reshape(n_members, n_packs, -1), fake.reshape(n_members, n_packs, -1)], dim=1)
    logits, d_cache = discriminator_forward(group.d_params, packs, group.fourier, c)
    d_real, d_fake = logits[:, :n_packs], logits[:, n_packs:]
    # d(loss)/d(logit): loss_D = mean softplus(-d_real) + mean softplus(d_fake), loss_G = mean softplus(-d_fake)
    weight_d = torch.cat([-torch.sigmoid(-d_real), torch.sigmoid(d_fake)], dim=1) / n_packs
    weight_g = -torch.sigmoid(-d_fake) / n_packs
    d_grads, grad_packs, das = discriminator_backward(group.d_params, d_cache, c, weight_d, weight_g)
    g_grads = generator_backward(group.g_params, g_cache, grad_packs.reshape(fake.shape))
    loss_d = (F.softplus(-d_real) + F.softplus(d_fake)).mean(1).sum()
    if penalise and c.r1_gamma > 0:
        coef = 0.5 * c.r1_gamma * c.r1_every
        penalty, r1_grads = (r1_backward_minibatch(group.d_params, d_cache, c, n_packs, coef) if das is None
                             else r1_backward(group.d_params, d_cache, das, c, n_packs, coef))
        loss_d = loss_d + penalty
        for name, grad in r1_grads.items():
            d_grads[name] = d_grads[name] + grad
    pacgan.set_grads([*group.d_params.values(), *group.g_params.values()],
                     [*(d_grads[n] for n in group.d_params), *(g_grads[n] for n in group.g_params)])
    group.optimizer.step()
    loss_g = F.softplus(-d_fake).mean(1).sum()
    return loss_d.item() / n_members, loss_g.item() / n_members
