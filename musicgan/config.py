"""Typed training configuration: defaults, named presets, files, overrides, and the saved copy.

A run is described by one ``RunConfig`` (nested dataclasses). It comes from a preset name
(``tiny`` for tests, ``cpu`` for a 2-core machine, ``gpu``) or from a JSON/TOML file whose
keys override a preset (``"preset": "cpu"`` in the file, default ``cpu``), then from
``--set section.key=value`` overrides on the command line. The resolved config is written
as ``config.json`` next to the logs and checkpoints of every run, and ``load_config`` reads
that file back, so a run folder is enough to rebuild its models.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from sims.checks import check_choice, check_int, check_positive

__all__ = ["DataConfig", "ModelConfig", "LossConfig", "OptimConfig", "TrainConfig", "RunConfig",
           "PRESETS", "preset", "load_config", "migrate_saved", "apply_overrides", "save_config"]

GENERATORS = ("conv", "lstm", "gru")
DISCRIMINATORS = ("conv", "lstm", "gru")
LOSSES = ("ns_r1", "wgan_gp")


@dataclass(frozen=True)
class DataConfig:
    """Where the clips come from and how they are split.

    ``source`` is ``"chorales"`` (the bundled Bach set, built and cached on first use),
    ``"synthetic"`` (random harmonic notes rendered on the fly; for tests) or a path to a
    prepared data set file. ``mel`` names the mel representation the chorales are prepared
    with (a prepared file carries its own). The split is by piece, so no held-out clip shares a
    piece with a training clip.
    """
    source: str = "chorales"
    mel: str = "pitch256"             # representation of the bundled chorales: a name in musicgan.mel.MEL_PRESETS
    held_out_fraction: float = 0.1
    split_seed: int = 0
    synthetic_clips: int = 256        # clips made when source == "synthetic"
    synthetic_pieces: int = 16        # pieces ("sources") the synthetic clips are grouped into
    synthetic_size: int = 64          # mel bands = frames per clip of the synthetic set

    def __post_init__(self):
        from musicgan.mel import MEL_PRESETS

        check_choice(self.mel, "data.mel", tuple(MEL_PRESETS))
        check_positive(self.held_out_fraction, "data.held_out_fraction")
        if self.held_out_fraction >= 1:
            raise ValueError(f"data.held_out_fraction must be < 1, got {self.held_out_fraction}")
        check_int(self.split_seed, "data.split_seed", low=0)
        check_int(self.synthetic_clips, "data.synthetic_clips", low=8)
        check_int(self.synthetic_pieces, "data.synthetic_pieces", low=2)
        check_int(self.synthetic_size, "data.synthetic_size", low=8)


@dataclass(frozen=True)
class ModelConfig:
    """Generator family and widths. The clip shape comes from the data set, not from here."""
    generator: str = "conv"           # conv (transposed convolutions) | lstm | gru (frame by frame)
    output: str = "notes"             # notes (note activations rendered by NoteSynth) | mel (every band free)
    conv_latent: str = "sequence"     # conv G: sequence (one vector per 16 frames; any length) | vector (one z)
    max_notes: int = 6                # notes output: only the loudest max_notes notes of a frame sound (0 = all)
    discriminator: str = "conv"       # conv (shared by both families) | lstm | gru (bidirectional)
    latent_dim: int = 32              # conv: size of z; recurrent: size of the noise vector per frame
    g_channels: int = 16              # conv G: channels of the last hidden layer (doubling towards z)
    d_channels: int = 16              # conv D: channels of the first layer (doubling with depth)
    rnn_hidden: int = 128             # recurrent G and D: hidden units per layer
    rnn_layers: int = 2
    rnn_clip_code: bool = True        # recurrent G: every step also reads the first frame's vector (a piece code)
    d_minibatch_std: bool = False     # conv D: append the minibatch standard deviation (ProGAN) before scoring

    def __post_init__(self):
        check_choice(self.generator, "model.generator", GENERATORS)
        check_choice(self.discriminator, "model.discriminator", DISCRIMINATORS)
        check_choice(self.output, "model.output", ("notes", "mel"))
        check_choice(self.conv_latent, "model.conv_latent", ("sequence", "vector"))
        check_int(self.max_notes, "model.max_notes", low=0)
        for name in ("latent_dim", "g_channels", "d_channels", "rnn_hidden", "rnn_layers"):
            check_int(getattr(self, name), f"model.{name}", low=1)


@dataclass(frozen=True)
class LossConfig:
    """The adversarial objective: non-saturating + R1, or WGAN-GP; optional PacGAN packing."""
    kind: str = "ns_r1"
    r1_gamma: float = 10.0            # R1 weight: gamma/2 * E||grad_x D(x)||^2 on real clips
    r1_every: int = 4                 # lazy R1: apply every k D steps, scaled by k (StyleGAN2)
    gp_lambda: float = 10.0           # WGAN-GP weight (Gulrajani et al.)
    d_steps: int = 1                  # D updates per G update (5 is the WGAN-GP default)
    pack: int = 2                     # PacGAN: D judges `pack` clips at once (1 = no packing)
    pack_same_piece: bool = True      # the clips of a pack come from one piece (real) / share a piece vector (G)
    mode_seeking: float = 0.0         # MSGAN weight on G: 1 / (|G(z1) - G(z2)| / |z1 - z2|) (0 = off)
    mode_seeking_pool: int = 1        # measure G's distances on clips averaged over pool x pool cells
    feature_matching: float = 0.0     # weight on G of ||E f(x) - E f(G(z))||^2, f = D's last features (0 = off)

    def __post_init__(self):
        check_choice(self.kind, "loss.kind", LOSSES)
        check_positive(self.r1_gamma, "loss.r1_gamma", allow_zero=True)
        check_int(self.r1_every, "loss.r1_every", low=1)
        check_positive(self.gp_lambda, "loss.gp_lambda", allow_zero=True)
        check_int(self.d_steps, "loss.d_steps", low=1)
        check_int(self.pack, "loss.pack", low=1)
        check_positive(self.mode_seeking, "loss.mode_seeking", allow_zero=True)
        check_int(self.mode_seeking_pool, "loss.mode_seeking_pool", low=1)
        check_positive(self.feature_matching, "loss.feature_matching", allow_zero=True)


@dataclass(frozen=True)
class OptimConfig:
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.99
    ema_decay: float = 0.999          # exponential moving average of G's weights, used for sampling

    def __post_init__(self):
        check_int(self.batch_size, "optim.batch_size", low=2)
        check_positive(self.lr_g, "optim.lr_g")
        check_positive(self.lr_d, "optim.lr_d")
        for name in ("beta1", "beta2", "ema_decay"):
            value = check_positive(getattr(self, name), f"optim.{name}", allow_zero=True)
            if value >= 1:
                raise ValueError(f"optim.{name} must be < 1, got {value}")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 12000                # G updates
    seed: int = 0
    device: str = "auto"              # auto (CUDA when present) | cpu | cuda
    num_threads: int = 0              # torch intra-op threads on CPU; 0 keeps torch's default
    log_every: int = 25               # scalars to TensorBoard
    image_every: int = 500            # spectrogram images and audio to TensorBoard
    checkpoint_every: int = 500
    keep_checkpoints: int = 2         # older checkpoints are deleted
    griffin_lim_iters: int = 32       # for the audio written to TensorBoard and by `sample`
    music_clips: int = 32             # generated clips whose musical measures are logged with the images (0: none)
    progress: bool = True             # tqdm bar

    def __post_init__(self):
        check_int(self.steps, "train.steps", low=1)
        check_int(self.seed, "train.seed", low=0)
        check_choice(self.device, "train.device", ("auto", "cpu", "cuda"))
        check_int(self.num_threads, "train.num_threads", low=0)
        for name in ("log_every", "image_every", "checkpoint_every", "keep_checkpoints", "griffin_lim_iters"):
            check_int(getattr(self, name), f"train.{name}", low=1)
        check_int(self.music_clips, "train.music_clips", low=0)


@dataclass(frozen=True)
class RunConfig:
    name: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        return _merge(cls(), values, prefix="")


def _tiny() -> RunConfig:
    # Seconds on a laptop CPU: synthetic clips, narrow nets, a handful of steps, every output exercised.
    return RunConfig(
        name="tiny",
        data=DataConfig(source="synthetic", synthetic_clips=64, synthetic_pieces=8, synthetic_size=16,
                        held_out_fraction=0.25),
        model=ModelConfig(latent_dim=8, g_channels=4, d_channels=4, rnn_hidden=16, rnn_layers=1),
        optim=OptimConfig(batch_size=8, ema_decay=0.9),
        train=TrainConfig(steps=6, log_every=1, image_every=3, checkpoint_every=3, griffin_lim_iters=2,
                          music_clips=4, num_threads=1, progress=False),
    )


def _cpu() -> RunConfig:
    # The defaults: the reference run. Narrow nets and batch 32 so that both families, one CPU core each,
    # finish 12000 steps in under 90 minutes on a shared 2-core machine; packing 2 and R1 weight 10 because
    # shorter trials with packing 1 or weight 1 collapsed to a few modes.
    return RunConfig(name="cpu")


def _gpu() -> RunConfig:
    # Wider nets, bigger batches, more steps: the same recipe scaled for one modern GPU.
    return RunConfig(
        name="gpu",
        model=ModelConfig(latent_dim=64, g_channels=64, d_channels=64, rnn_hidden=512, rnn_layers=2),
        optim=OptimConfig(batch_size=64),
        train=TrainConfig(steps=30000, log_every=50, image_every=2000, checkpoint_every=2000),
    )


PRESETS = {"tiny": _tiny, "cpu": _cpu, "gpu": _gpu}


def preset(name: str) -> RunConfig:
    """Return the named preset (``tiny``, ``cpu`` or ``gpu``)."""
    check_choice(name, "preset", tuple(PRESETS))
    return PRESETS[name]()


def _coerce(value, default, key: str):
    """Convert ``value`` to ``default``'s type: a str from the command line is parsed, a parsed JSON/TOML value
    must already have that type (an int is accepted for a float, an integral float for an int; a bool is never
    a number and a number never a bool). ValueError naming ``key`` otherwise."""
    kind = type(default)
    if isinstance(value, str) and kind is not str:
        return _parse_text(value, kind, key)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}")
        return value
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return int(value)
    if kind is float:
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value


def _parse_text(value: str, kind: type, key: str):
    """A command-line string as a bool, int or float (``--set train.steps=100``)."""
    if kind is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} must be true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    try:
        return int(value) if kind is int else float(value)
    except ValueError:
        raise ValueError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def _merge(config, values: dict, prefix: str):
    """Return ``config`` with the entries of the nested dict ``values`` replaced; unknown keys are errors."""
    known = {f.name: f for f in fields(config)}
    changes = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in known:
            raise ValueError(f"unknown config key {full!r}; known: {', '.join(sorted(known))}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"{full} must be a table of settings, got {value!r}")
            changes[key] = _merge(current, value, prefix=f"{full}.")
        else:
            changes[key] = _coerce(value, current, full)
    return replace(config, **changes)


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``section.key=value`` strings, e.g. ``["model.generator=lstm", "train.steps=100"]``."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ValueError(f"override must look like section.key=value, got {item!r}")
        section, name = key.strip().split(".", 1)
        config = _merge(config, {section: {name: value.strip()}}, prefix="")
    return config


def _read_file(path: Path) -> dict:
    text = path.read_text()
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot parse config file {path}: {err}") from None


def migrate_saved(values: dict) -> dict:
    """A run's saved config (``config.json`` or the one inside ``generator.pt``) brought to today's fields.

    Runs saved before ``data.mel`` existed were trained on the 64-band representation, so their data section
    gets ``mel = "legacy64"``; the default for new runs is the 256-band one. Runs saved before the note output,
    the latent sequence of the conv generator and same-piece packing existed get the settings they ran with
    (``mel``, ``vector``, no piece code, packs of any clips).
    """
    values = json.loads(json.dumps(values))
    data = values.setdefault("data", {})
    data.setdefault("mel", "legacy64")
    model, loss = values.setdefault("model", {}), values.setdefault("loss", {})
    for key, old in (("output", "mel"), ("conv_latent", "vector"), ("rnn_clip_code", False), ("max_notes", 0)):
        model.setdefault(key, old)                # settings added with issue 14: what runs before it used
    loss.setdefault("pack_same_piece", False)
    return values


def load_config(name_or_file: str, overrides: list[str] | None = None, *, saved: bool = False) -> RunConfig:
    """Resolve a preset name or a ``.json``/``.toml`` file (keys override its ``preset``), then overrides.

    ``saved=True`` reads a run's own ``config.json`` (see :func:`migrate_saved`)."""
    path = Path(name_or_file)
    if name_or_file in PRESETS:
        config = preset(name_or_file)
    elif path.suffix in (".json", ".toml") and path.is_file():
        values = _read_file(path)
        if not isinstance(values, dict):
            raise ValueError(f"config file {path} must hold a table of settings, got {type(values).__name__}")
        values = migrate_saved(values) if saved else values
        base = values.pop("preset", None)
        if base is None:                      # no preset key: the file's name if it is one, else cpu
            base = values.get("name") if values.get("name") in PRESETS else "cpu"
        if base not in PRESETS:
            raise ValueError(f"{path}: unknown preset {base!r}; valid presets: {', '.join(PRESETS)}")
        config = _merge(preset(base), values, prefix="")
    else:
        raise ValueError(f"config must be a preset ({', '.join(PRESETS)}) or an existing .json/.toml file, "
                         f"got {name_or_file!r}")
    return apply_overrides(config, overrides or [])


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as JSON; ``load_config(path)`` reads it back unchanged."""
    values = ({"preset": config.name} if config.name in PRESETS else {}) | config.to_dict()
    path.write_text(json.dumps(values, indent=2) + "\n")
