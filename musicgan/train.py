"""``python -m musicgan train``: train one GAN on mel clips; TensorBoard, atomic checkpoints, exact resume.

One process: ``python -m musicgan train --config cpu --set model.generator=lstm --out runs/lstm``.
Several (GPUs or CPU processes): ``torchrun --nproc_per_node N -m musicgan train ...`` -- each process
draws its own batches, DistributedDataParallel averages the gradients, process 0 writes everything.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

from musicgan.config import RunConfig, load_config, migrate_saved, save_config
from musicgan.losses import discriminator_loss, generator_loss, generator_regularisers
from musicgan.outputs import OutputPathError, check_output_folder
from musicgan.runs import (build_models, checkpoint_paths, decoding_record, export_generator, latest_checkpoint,
                           load_data, newest_readable_checkpoint, save_checkpoint, split_data)
from sims.seeding import seed_everything

__all__ = ["add_arguments", "run", "train", "NonFiniteLossError", "Trainer", "batch_diversity"]

class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the run stopped before applying that step."""


# On --resume these settings may differ from the checkpoint's and take effect; every other one decides the
# networks' shapes, the data or the random streams, and a difference is refused.
RESUME_CHANGEABLE = ("name", "train.steps", "train.device", "train.num_threads", "train.log_every", "train.image_every",
                     "train.checkpoint_every", "train.keep_checkpoints", "train.griffin_lim_iters", "train.progress",
                     "optim.batch_size", "optim.lr_g", "optim.lr_d", "optim.beta1", "optim.beta2", "optim.ema_decay",
                     "loss.kind", "loss.r1_gamma", "loss.r1_every", "loss.gp_lambda", "loss.d_steps",
                     "loss.mode_seeking", "loss.mode_seeking_pool", "loss.feature_matching")


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def resume_differences(saved: dict, cfg: RunConfig) -> tuple[dict, dict]:
    """(changeable, fixed): ``{key: (saved value, new value)}`` for each setting where ``cfg`` differs from the
    checkpoint's config ``saved`` (filled with today's defaults for keys added since)."""
    old, new = _flat(RunConfig.from_dict(migrate_saved(saved)).to_dict()), _flat(cfg.to_dict())
    diff = {key: (old[key], new[key]) for key in new if old.get(key) != new[key]}
    changeable = {k: v for k, v in diff.items() if k in RESUME_CHANGEABLE}
    return changeable, {k: v for k, v in diff.items() if k not in RESUME_CHANGEABLE}


@torch.no_grad()
def batch_diversity(clips: torch.Tensor) -> torch.Tensor:
    """|D|_self of one batch (batch, 1, n_mels, n_frames): mean RMS distance from each clip to its nearest
    other clip. Logged for generated and real batches, it shows a collapse while training runs (a batch of 32
    has fewer near neighbours than the evaluation's 1,000 clips, so its values are larger)."""
    flat = clips.detach().flatten(1)
    dist = torch.cdist(flat, flat)
    dist.fill_diagonal_(float("inf"))
    return dist.min(dim=1).values.mean() / flat.shape[1] ** 0.5


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(cfg: RunConfig, local_rank: int) -> torch.device:
    use_cuda = cfg.train.device == "cuda" or (cfg.train.device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Trainer:
    """Holds the nets, optimisers and random state of one run, and advances it step by step."""

    def __init__(self, cfg: RunConfig, out_dir: Path, *, resume: bool = False, log=print):
        self.cfg, self.out_dir, self.log = cfg, Path(out_dir), log
        self.rank, self.world, local_rank = _distributed()
        self.device = _device(cfg, local_rank)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        seed_everything(cfg.train.seed)
        self._load_clips()
        self._build()
        self.step, self.d_step = 0, 0
        if resume:
            self._resume()

    def _load_clips(self) -> None:
        prepared = load_data(self.cfg.data, progress=self.rank == 0 and self.cfg.train.progress,
                             run_dir=self.out_dir)
        train_idx, _ = split_data(prepared, self.cfg.data)
        self.mel_config, self.normalizer = prepared.mel_config, prepared.normalizer
        clips = prepared.normalizer.normalize(prepared.mels[train_idx])
        self.clips = torch.as_tensor(clips, dtype=torch.float32).unsqueeze(1).to(self.device)  # (N, 1, M, T)
        self.shape = tuple(self.clips.shape[2:])
        self.crops = None                    # windows anywhere in a piece, packed by piece (issue 14 runs)
        if self.cfg.loss.pack_same_piece:
            from musicgan.pieces import PieceCrops, piece_sequences

            sources = [prepared.sources[i] for i in train_idx]
            sequences = piece_sequences(clips, sources, prepared.starts[train_idx], self.mel_config.hop_length)
            self.crops = PieceCrops(sequences, self.shape[1], self.device)
        if self.clips.shape[0] < self.cfg.optim.batch_size:
            raise ValueError(f"only {self.clips.shape[0]} training clips for batch size {self.cfg.optim.batch_size}")

    def _build(self) -> None:
        cfg = self.cfg
        net_G, net_D = build_models(cfg, *self.shape)
        if getattr(net_G, "synth", None) is not None:
            net_G.synth.set_rendering(self.mel_config, self.normalizer)
        self.net_G, self.net_D = net_G.to(self.device), net_D.to(self.device)
        self.ema_G = copy.deepcopy(self.net_G).eval().requires_grad_(False)
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        self.opt_G = torch.optim.Adam(self.net_G.parameters(), cfg.optim.lr_g, betas=betas)
        self.opt_D = torch.optim.Adam(self.net_D.parameters(), cfg.optim.lr_d, betas=betas)
        # different batches and noise on each process; the nets start equal (DDP broadcasts rank 0's)
        self.rng = torch.Generator().manual_seed(cfg.train.seed + 1_000_003 * self.rank)
        self.train_G, self.train_D = self.net_G, self.net_D
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # R1's double backward hands DDP a transposed gradient for D's last weight: harmless, only slower
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_G, self.train_D = DDP(self.net_G, device_ids=ids), DDP(self.net_D, device_ids=ids)

    def _state(self) -> dict:
        return {"step": self.step, "d_step": self.d_step, "G": self.net_G.state_dict(),
                "D": self.net_D.state_dict(), "G_ema": self.ema_G.state_dict(),
                "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "rng": self.rng.get_state(), "config": self.cfg.to_dict(), "shape": list(self.shape),
                "world_size": self.world, "decoding": decoding_record(self.mel_config, self.normalizer)}

    def _resume(self) -> None:
        if not checkpoint_paths(self.out_dir):
            raise FileNotFoundError(f"--resume: no checkpoint in {self.out_dir / 'checkpoints'}")
        found = newest_readable_checkpoint(self.out_dir, self.device, log=self.log)
        if found is None:
            raise FileNotFoundError(f"--resume: no readable checkpoint in {self.out_dir / 'checkpoints'}")
        path, state = found
        if state["world_size"] != self.world:
            raise ValueError(f"{path} was written by {state['world_size']} process(es), resuming with {self.world}")
        changed, fixed = resume_differences(state["config"], self.cfg)
        if fixed:
            listed = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in fixed.items())
            raise ValueError(f"--resume cannot change {listed} (they fix the networks, the data or the random "
                             "streams): start a new run with another --out")
        for module, key in ((self.net_G, "G"), (self.net_D, "D"), (self.ema_G, "G_ema"),
                            (self.opt_G, "opt_G"), (self.opt_D, "opt_D")):
            module.load_state_dict(state[key])
        self._apply_optim_settings()         # the optimisers' saved state carries the old rates and betas
        self.rng.set_state(state["rng"].cpu())
        self.step, self.d_step = state["step"], state["d_step"]
        self.log(f"resumed from {path} at step {self.step}")
        if changed:
            self.log("changed on resume: " + "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items()))

    def _apply_optim_settings(self) -> None:
        optim = self.cfg.optim
        for opt, lr in ((self.opt_G, optim.lr_g), (self.opt_D, optim.lr_d)):
            for group in opt.param_groups:
                group["lr"], group["betas"] = lr, (optim.beta1, optim.beta2)

    @property
    def _context(self) -> int:
        return getattr(self.net_G, "train_context", 0) if self.crops is not None else 0

    def _latent(self) -> torch.Tensor:
        """Latent vectors for one batch; with same-piece packing, the clips of a pack share the piece vector
        ``z[:, 0]`` and get ``train_context`` extra frames, of which :meth:`_generate` keeps a random window."""
        shape = self.net_G.latent_shape
        if self.crops is not None:
            shape = self.net_G.latent_shape_for(self.shape[1] + self._context)
        z = torch.randn(self.cfg.optim.batch_size, *shape, generator=self.rng)
        if self.crops is not None:
            pack = self.cfg.loss.pack
            z[:, 0] = z[::pack, 0].repeat_interleave(pack, dim=0)
        return z.to(self.device)

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) cut to the clip length: a random window per clip past ``train_context`` frames of warm-up
        (the recurrent G's burn-in; the conv G's position within its latent grid)."""
        full = self.train_G(z)
        if self.crops is None:
            return full
        n_frames = self.shape[1]
        offset = torch.randint(full.shape[-1] - n_frames + 1, (full.shape[0],), generator=self.rng)
        index = (offset[:, None] + torch.arange(n_frames)).to(full.device)          # (B, n_frames)
        return full.gather(3, index[:, None, None, :].expand(-1, 1, full.shape[2], -1))

    def _real_batch(self) -> torch.Tensor:
        if self.crops is not None:
            return self.crops.draw(self.cfg.optim.batch_size, self.rng, group=self.cfg.loss.pack)
        idx = torch.randint(self.clips.shape[0], (self.cfg.optim.batch_size,), generator=self.rng)
        return self.clips[idx.to(self.device)]

    def _checked(self, loss: torch.Tensor, what: str) -> None:
        value = loss.detach().clone()
        if self.world > 1:                   # every process must agree to stop
            dist.all_reduce(value)
        if not torch.isfinite(value):
            last = latest_checkpoint(self.out_dir)
            where = (f"The last good checkpoint is {last}" if last is not None
                     else "No checkpoint had been written yet")
            raise NonFiniteLossError(f"{what} is {value.item()} at step {self.step}; stopped before applying it. "
                                     f"{where}; lower the learning rates (--set optim.lr_g=..., optim.lr_d=...) "
                                     "or check the data set")

    def _d_update(self) -> dict:
        with torch.no_grad():
            fake = self._generate(self._latent())
        real = self._real_batch()
        loss, stats = discriminator_loss(self.train_D, real, fake, self.cfg.loss, d_step=self.d_step, rng=self.rng)
        self._checked(loss, "the discriminator loss")
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        self.d_step += 1
        return {**stats, "diversity/fake": batch_diversity(fake), "diversity/real": batch_diversity(real)}

    def _g_update(self) -> dict:
        self.net_D.requires_grad_(False)     # D is only a function here: no gradient, no DDP all-reduce
        try:
            z = self._latent()
            fake = self._generate(z)
            loss, stats = generator_loss(self.net_D, fake, self.cfg.loss)
            if self.cfg.loss.mode_seeking > 0 or self.cfg.loss.feature_matching > 0:
                real = self._real_batch() if self.cfg.loss.feature_matching > 0 else None
                extra, extra_stats = generator_regularisers(self.net_D, fake, z, real, self.cfg.loss)
                loss = loss + extra
                stats.update(extra_stats)
            self._checked(loss, "the generator loss")
            self.opt_G.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_G.step()
        finally:
            self.net_D.requires_grad_(True)
        return stats

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.cfg.optim.ema_decay
        for ema, live in zip(self.ema_G.parameters(), self.net_G.parameters()):
            ema.lerp_(live, 1 - decay)
        for ema, live in zip(self.ema_G.buffers(), self.net_G.buffers()):
            ema.copy_(live)                  # BatchNorm running statistics follow the live G

    def train_step(self) -> dict:
        """One G update after ``loss.d_steps`` D updates; returns detached scalars for logging."""
        stats = {}
        for _ in range(self.cfg.loss.d_steps):
            stats.update(self._d_update())
        stats.update(self._g_update())
        self._update_ema()
        self.step += 1
        return stats

    def save(self) -> Path:
        return save_checkpoint(self._state(), self.out_dir, self.step, self.cfg.train.keep_checkpoints)


def _prepare_folder(cfg: RunConfig, out_dir: Path, resume: bool, trainer: Trainer) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir / "config.json")
    info = {"git_commit": _git_commit(), "torch": torch.__version__, "python": platform.python_version(),
            "device": str(trainer.device), "world_size": trainer.world, "clip_shape": list(trainer.shape),
            "training_clips": int(trainer.clips.shape[0]), "command": " ".join(sys.argv)}
    name = "run_info.json" if not resume else f"run_info-resume-{trainer.step:07d}.json"
    (out_dir / name).write_text(json.dumps(info, indent=2) + "\n")


RUN_FILES = ("config.json", "run_info.json", "generator.pt", "sessions.jsonl", "logs", "checkpoints", "samples")


def _checked_run_folder(out_dir: Path, cfg: RunConfig) -> Path:
    """``out_dir`` once it may become a run folder: new, empty, or already a run folder; never the data file."""
    data = [Path(cfg.data.source)] if cfg.data.source not in ("chorales", "synthetic") else []
    check_output_folder(out_dir, ("config.json", "run_info.json", "generator.pt"), what="run files", inputs=data,
                        tracked_ok=True)
    if out_dir.is_dir() and not (out_dir / "config.json").is_file():
        own = {*RUN_FILES, *(d.name for d in data if d.resolve().parent == out_dir.resolve())}   # its data set
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in own and not p.name.startswith("."))
        if foreign:
            listed = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise OutputPathError(f"refusing to train into {out_dir}: it holds other files ({listed}) and is not "
                                  "a run folder; choose another --out")
    return out_dir


def train(cfg: RunConfig, out_dir, *, resume: bool = False, log=print) -> dict:
    """Train as ``cfg`` says, writing the run folder ``out_dir``; returns timing facts of this session."""
    from musicgan.tblog import RunLogger

    out_dir = _checked_run_folder(Path(out_dir), cfg)
    if not resume and latest_checkpoint(out_dir) is not None:
        raise FileExistsError(f"{out_dir} already holds checkpoints: pass --resume, or choose another --out")
    trainer = Trainer(cfg, out_dir, resume=resume, log=log)
    main = trainer.rank == 0
    if main:
        _prepare_folder(cfg, out_dir, resume, trainer)
    logger = RunLogger(trainer, enabled=main)
    wall, cpu, first = time.perf_counter(), time.process_time(), trainer.step
    try:
        while trainer.step < cfg.train.steps:
            logger.after_step(trainer.train_step())
            if main and trainer.step % cfg.train.checkpoint_every == 0:
                trainer.save()
    finally:
        logger.close()
    facts = {"steps": trainer.step - first, "wall_s": time.perf_counter() - wall,
             "cpu_s": time.process_time() - cpu, "world_size": trainer.world}
    _finish(trainer, main, facts)
    return facts


def _check_processes_agree(trainer: Trainer) -> None:
    """Under DDP the generators must be identical on every process; compare a checksum of the weights."""
    total = torch.stack([p.detach().double().sum() for p in trainer.net_G.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(total) for _ in range(trainer.world)]
    dist.all_gather(gathered, total)
    if len({float(t) for t in gathered}) != 1:
        raise RuntimeError(f"generator weights differ across processes: {[float(t) for t in gathered]}")


def _finish(trainer: Trainer, main: bool, facts: dict) -> None:
    if trainer.world > 1:
        _check_processes_agree(trainer)
    if not main:
        return
    latest = latest_checkpoint(trainer.out_dir)
    if latest is None or latest.name != f"ckpt-{trainer.step:07d}.pt":
        trainer.save()
    export_generator(trainer.out_dir, trainer.cfg, trainer.ema_G.state_dict(), trainer.shape, trainer.step,
                     decoding=decoding_record(trainer.mel_config, trainer.normalizer))
    _write_final_samples(trainer)
    with (trainer.out_dir / "sessions.jsonl").open("a") as f:     # one line per session
        f.write(json.dumps({**facts, "last_step": trainer.step}) + "\n")


def _write_final_samples(trainer: Trainer) -> None:
    from musicgan.runs import generate
    from musicgan.sample import write_samples

    clips = generate(trainer.ema_G, 4, seed=trainer.cfg.train.seed, device=trainer.device)
    write_samples(trainer.normalizer.denormalize(clips), trainer.mel_config, trainer.out_dir / "samples",
                  n_iter=trainer.cfg.train.griffin_lim_iters)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="preset (tiny, cpu, gpu) or a .json/.toml file; with --resume the "
                        "default is OUT/config.json")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<config name>-<generator>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting, e.g. --set model.generator=lstm (repeatable)")


def run(args) -> int:
    try:
        if args.config is None and not (args.resume and args.out):
            raise ValueError("--config is required (unless --resume with --out)")
        cfg = load_config(args.config or str(args.out / "config.json"), args.set, saved=args.config is None)
        out = args.out or Path("runs") / f"{cfg.name}-{cfg.model.generator}"
        facts = train(cfg, out, resume=args.resume, log=lambda m: print(m, file=sys.stderr))
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (FileNotFoundError, FileExistsError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {facts['steps']} steps in {facts['wall_s']:.1f} s wall, {facts['cpu_s']:.1f} s CPU "
              f"-> {out}")
    return 0
