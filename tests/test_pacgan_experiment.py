"""The Table 1 experiment driver: records, worker-count independence, table rows and compute counts."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sims.pacgan import TrainConfig
from sims.pacgan_experiment import (PAPER_TABLE1, method_means, paper_config, plan_tasks, run_experiment,
                                    summary_rows, training_multiply_adds, worker_pool)

TINY = TrainConfig(steps=4, batch=16, g_width=8, g_depth=2, d_width=8, fourier_features=2, chunk=2)
TINY_METHODS = {"GAN": TINY, "PacGAN2": replace(TINY, pack=2)}


def _records_key(records):
    return sorted((r["method"], r["dataset"], r["seed"], r["modes"], round(r["emd"], 6)) for r in records)


def test_run_experiment_records_and_samples():
    exp = run_experiment(TINY_METHODS, ("ring", "grid"), seeds=[0, 1], n_samples=30)
    assert len(exp.records) == 2 * 2 * 2
    assert exp.samples["PacGAN2", "grid"].shape == (2, 30, 2)
    assert exp.losses["GAN", "ring"].shape == (TINY.steps, 2)
    assert exp.wall_s > 0 and exp.cpu_s > 0
    for r in exp.records:
        assert 0 <= r["modes"] <= (8 if r["dataset"] == "ring" else 25) and r["emd"] > 0


@pytest.mark.slow
def test_two_worker_processes_give_the_same_runs():
    one = run_experiment(TINY_METHODS, ("ring",), seeds=[3, 4], n_samples=30, workers=1)
    two = run_experiment(TINY_METHODS, ("ring",), seeds=[3, 4], n_samples=30, workers=2)
    assert _records_key(one.records) == _records_key(two.records)


@pytest.mark.slow
def test_seeds_split_among_workers_give_the_same_runs():
    methods = {"GAN": TINY}                                       # one task for two workers: its seeds are split
    assert [t[3] for t in plan_tasks(methods, ("grid",), [3, 4, 5], workers=2)] == [[3], [4], [5]]
    assert [t[3] for t in plan_tasks(methods, ("grid",), range(8), workers=2)] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert [t[3] for t in plan_tasks(methods, ("grid",), [3, 4, 5], workers=1)] == [[3, 4, 5]]
    one = run_experiment(methods, ("grid",), seeds=[3, 4, 5], n_samples=30, workers=1)
    pool = worker_pool(2)                                          # started once, kept for later experiments
    two = run_experiment(methods, ("grid",), seeds=[3, 4, 5], n_samples=30, workers=2)
    assert worker_pool(2) is pool
    assert _records_key(one.records) == _records_key(two.records)
    assert np.allclose(one.samples["GAN", "grid"], two.samples["GAN", "grid"], atol=1e-5)
    assert np.allclose(one.losses["GAN", "grid"], two.losses["GAN", "grid"], atol=1e-5)


def test_plan_merges_runs_that_differ_in_length_only():
    methods = {"A": TINY, "A, 2x": replace(TINY, steps=8), "B": replace(TINY, pack=2)}
    tasks = plan_tasks(methods, ("ring", "grid"), [0, 1], workers=2)
    assert len(tasks) == 4 and all(seeds == [0, 1] for *_, seeds in tasks)
    assert tasks[0][0] == {"A": 4, "A, 2x": 8} and tasks[0][1].steps == 8    # the costliest first
    assert {t[0]["B"] for t in tasks if "B" in t[0]} == {4}


def test_runs_of_several_lengths_equal_separate_runs():
    methods = {"short": TINY, "long": replace(TINY, steps=9)}
    together = run_experiment(methods, ("ring",), seeds=[0, 1], n_samples=30)
    for name, config in methods.items():
        alone = run_experiment({name: config}, ("ring",), seeds=[0, 1], n_samples=30)
        assert np.array_equal(together.samples[name, "ring"], alone.samples[name, "ring"])
        assert np.array_equal(together.losses[name, "ring"], alone.losses[name, "ring"])
    order = [(r["method"], r["seed"]) for r in together.records]
    assert order == [("short", 0), ("short", 1), ("long", 0), ("long", 1)]


def test_summary_rows_put_the_paper_in_brackets():
    records = [{"method": "GAN", "dataset": "ring", "seed": s, "modes": m, "hq_percent": 90.0,
                "reverse_kl": 0.5, "emd": 0.3} for s, m in enumerate([6, 7, 6, 7])]
    (row,) = summary_rows(records, ["GAN"], "ring")
    se = np.std([6, 7, 6, 7], ddof=1) / 2
    assert row[0] == "GAN" and row[1] == f"6.5 ± {se:.1f} (6.3 ± 0.5)"
    assert row[3].endswith("(0.45 ± 0.09)") and row[4] == "0.30 ± 0.00"
    nan_runs = [dict(r, method="minibatch disc.", reverse_kl=float("nan")) for r in records]
    assert summary_rows(nan_runs, ["minibatch disc."], "ring")[0][3] == "n/a (n/a)"
    assert method_means(records)["ring", "GAN", "modes"] == 6.5


def test_paper_table_is_complete():
    assert {k for k in PAPER_TABLE1} == {(m, d) for m in ("GAN", "PacGAN2", "PacGAN3", "PacGAN4")
                                         for d in ("ring", "grid")}
    assert PAPER_TABLE1["PacGAN4", "grid"][0] == (24.8, 0.2)


def test_multiply_adds_by_hand():
    c = TrainConfig(steps=10, batch=4, pack=2, latent_dim=2, g_width=3, g_depth=2, d_width=5, d_depth=2,
                    d_pieces=0, fourier_features=0, r1_gamma=0.0)
    g = 2 * 3 + 1 * 3 * 3 + 2 * 3                    # latent -> 3, 3 -> 3, 3 -> 2
    d = 4 * 5 + 1 * 5 * 5 + 5                        # 2 samples of 2 coordinates -> 5, 5 -> 5, 5 -> 1
    assert training_multiply_adds(c) == 3 * 10 * (4 * g + 2 * 2 * d)
    # R1 adds two passes over the 2 real packs: 4 discriminator passes per step instead of 2, or 2.5 if lazy
    assert training_multiply_adds(replace(c, r1_gamma=1.0, r1_every=1)) == 3 * 10 * (4 * g + 4 * 2 * d)
    assert training_multiply_adds(replace(c, r1_gamma=1.0, r1_every=4)) == 3 * 10 * (4 * g + 2.5 * 2 * d)
    assert training_multiply_adds(paper_config(4)) > 1000 * training_multiply_adds(TrainConfig(pack=4))


def test_paired_difference_interval():
    from sims.pacgan_experiment import paired_difference

    def records(pairs):
        return [{"dataset": "grid", "method": m, "seed": s, "emd": v}
                for s, (a, b) in enumerate(pairs) for m, v in (("A", a), ("B", b))]

    r = paired_difference(records([(1.0, 2.0), (1.1, 2.2), (0.9, 1.9), (1.0, 2.1)]), "grid", "emd", "A", "B")
    assert r["n"] == 4 and np.isclose(r["mean"], -1.05) and r["low"] < -1.05 < r["high"] < 0 and r["separated"]
    mixed = paired_difference(records([(2.0, 1.0), (1.0, 2.0), (1.5, 1.0), (1.0, 1.5)]), "grid", "emd", "A", "B")
    assert mixed["low"] < 0 < mixed["high"] and not mixed["separated"]
    with pytest.raises(ValueError, match="two or more paired seeds"):
        paired_difference(records([(1.0, 2.0)]), "grid", "emd", "A", "B")
