"""TensorBoard summaries and the progress bar of a training run, and reading the summaries back.

Tags are namespaced so TensorBoard groups them: ``loss/D``, ``loss/G``, ``D/logit_real``, ``D/logit_fake``,
``penalty/r1`` or ``penalty/gp``, ``wgan/critic_gap``, ``diversity/fake`` and ``diversity/real`` (every family),
``perf/steps_per_s``; with the images, the musical measures of a fixed batch of ``train.music_clips`` generated
clips (:func:`musicgan.scorecard.clip_measures` on their mel matrices, and the tuning of their decoded audio):
``music/mel_in_tune``, ``music/notes_per_frame``, ``music/pitch_classes``, ``music/key_corr``,
``music/in_scale``, ``music/onset_rate``, ``music/in_tune`` (the same for the real clips at step 0, under
``music_real/``); images ``samples/spectrograms``
(EMA generator, fixed latent vectors, so successive images are comparable) and ``real/spectrograms``;
audio ``samples/audio_<i>`` and ``real/audio_<i>`` (Griffin-Lim). Open them with
``tensorboard --logdir RUN/logs``.
"""
from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

__all__ = ["RunLogger", "read_scalars"]

LOG_DIR = "logs"


class RunLogger:
    """Averages the step statistics over ``log_every`` steps and writes them; draws images and audio."""

    def __init__(self, trainer, enabled: bool = True):
        self.trainer, self.enabled = trainer, enabled
        cfg = trainer.cfg.train
        self.sums, self.count = defaultdict(float), 0
        self.last_time, self.last_step = time.perf_counter(), trainer.step
        if not enabled:
            self.writer = self.bar = None
            return
        from torch.utils.tensorboard import SummaryWriter

        # on resume, purge_step hides anything a crashed session logged after its last checkpoint
        self.writer = SummaryWriter(str(Path(trainer.out_dir) / LOG_DIR), purge_step=trainer.step or None)
        self.bar = None
        if cfg.progress:
            from tqdm import tqdm

            # redrawn at most every 30 s into a log file, so logs stay small
            self.bar = tqdm(total=cfg.steps, initial=trainer.step, unit="step", file=sys.stderr, dynamic_ncols=True,
                            desc=trainer.cfg.model.generator, mininterval=0.1 if sys.stderr.isatty() else 30)
        gen = torch.Generator().manual_seed(cfg.seed + 7)        # not the training generator: logging
        self.preview_z = torch.randn(N_PREVIEW, *trainer.net_G.latent_shape, generator=gen)  # leaves it alone
        self.music_z = torch.randn(cfg.music_clips, *trainer.net_G.latent_shape, generator=gen)
        if trainer.step == 0:
            self._log_real()

    def after_step(self, stats: dict) -> None:
        if not self.enabled:
            return
        for key, value in stats.items():
            self.sums[key] += float(value)
        self.count += 1
        step, cfg = self.trainer.step, self.trainer.cfg.train
        if self.bar is not None:
            self.bar.update(1)
        if step % cfg.log_every == 0:
            self._log_scalars(step)
        if step % cfg.image_every == 0 or step == cfg.steps:
            self._log_samples(step)

    def _log_scalars(self, step: int) -> None:
        means = {key: total / self.count for key, total in self.sums.items()}
        for key, value in means.items():
            self.writer.add_scalar(key, value, step)
        now = time.perf_counter()
        self.writer.add_scalar("perf/steps_per_s", (step - self.last_step) / (now - self.last_time), step)
        self.last_time, self.last_step = now, step
        if self.bar is not None:
            self.bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in means.items() if k.startswith("loss")},
                                 refresh=False)
        self.sums, self.count = defaultdict(float), 0

    def _write_clips(self, tag: str, clips_norm: np.ndarray, step: int) -> None:
        import matplotlib.pyplot as plt

        from musicgan.sample import clips_to_audio, spectrogram_figure

        trainer = self.trainer
        mels_db = trainer.normalizer.denormalize(clips_norm)
        fig = spectrogram_figure(mels_db, trainer.mel_config)
        self.writer.add_figure(f"{tag}/spectrograms", fig, step)
        plt.close(fig)
        audio = clips_to_audio(mels_db, trainer.mel_config, n_iter=trainer.cfg.train.griffin_lim_iters)
        for i, wave in enumerate(audio[:N_AUDIO]):
            self.writer.add_audio(f"{tag}/audio_{i}", torch.from_numpy(wave)[None], step,
                                  sample_rate=trainer.mel_config.sample_rate)
        return audio

    def _write_music(self, tag: str, clips_norm: np.ndarray, audio: np.ndarray, step: int) -> None:
        """Mean of each musical measure over ``clips_norm`` (mel) and ``audio`` (tuning of the decoded previews)."""
        from musicgan.measures import peak_tuning
        from musicgan.scorecard import clip_measures

        if len(clips_norm) == 0:
            return
        trainer = self.trainer
        values = clip_measures(trainer.normalizer.denormalize(clips_norm), trainer.mel_config)
        values["in_tune"] = peak_tuning(audio, trainer.mel_config.sample_rate)["in_tune"]
        for key, v in values.items():
            if np.any(np.isfinite(v)):
                self.writer.add_scalar(f"{tag}/{key}", float(np.nanmean(v)), step)

    @torch.no_grad()
    def _log_samples(self, step: int) -> None:
        device = self.trainer.device
        clips = self.trainer.ema_G(self.preview_z.to(device)).squeeze(1).cpu().numpy()
        audio = self._write_clips("samples", clips, step)
        music = self.trainer.ema_G(self.music_z.to(device)).squeeze(1).cpu().numpy() if len(self.music_z) else clips[:0]
        self._write_music("music", music, audio, step)

    def _log_real(self) -> None:
        gen = torch.Generator().manual_seed(0)
        n = max(N_PREVIEW, self.trainer.cfg.train.music_clips)
        idx = torch.randperm(self.trainer.clips.shape[0], generator=gen)[:n].to(self.trainer.device)
        clips = self.trainer.clips[idx].squeeze(1).cpu().numpy()
        audio = self._write_clips("real", clips[:N_PREVIEW], 0)
        self._write_music("music_real", clips[:self.trainer.cfg.train.music_clips], audio, 0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


N_PREVIEW = 8          # clips in each logged spectrogram image
N_AUDIO = 2            # of which this many are also logged as audio


def read_scalars(run_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series of a run's TensorBoard logs: ``{tag: (steps, values)}``, steps increasing.

    Several event files (one per session of a resumed run; their names start with the creation time, so
    they sort in order) are merged; a later file wins at equal steps.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = defaultdict(dict)
    for path in sorted((Path(run_dir) / LOG_DIR).glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for event in acc.Scalars(tag):
                series[tag][event.step] = event.value
    return {tag: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for tag, v in series.items()}
