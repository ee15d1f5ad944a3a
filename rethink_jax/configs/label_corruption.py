"""Figures 1b and 1c: partially corrupted labels at levels 0.0, 0.1, ..., 1.0.

Each run stops when the train set (with its corrupted labels) is fitted (time to fit,
Figure 1b); test error is read at that point (Figure 1c).

* ``cpu``: MLP 1x512 on the embedded sample, at most 400 epochs of it.
* ``paper``: full CIFAR-10 from files, at most 200 epochs.
    python experiments/label_corruption.py --config rethink_jax/configs/label_corruption.py:paper \
        --config.data.data_dir=~/data --config.model=inception_small --config.optim.lr=0.1

All levels train as one vmapped program (``sweep.vmapped``; each run still stops at its own
fit and writes its own record). ``sweep.seeds=(0, 1, 2)`` repeats every level per seed and
the report draws mean ± std error bars.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset, ("levels", "seeds", "vmapped"))
  c.stop_at_fit = True
  c.num_epochs = 400.0 if preset == "cpu" else 200.0
  c.sweep.levels = tuple(round(0.1 * i, 1) for i in range(11))
  c.sweep.vmapped = True
  return c


def build_runs(c) -> common.SweepRuns:
  """Figures 1b and 1c: partially corrupted labels at each level in ``sweep.levels``, for
  each seed in ``sweep.seeds`` (default: just ``seed``; more seeds give error bars)."""
  seeds = tuple(c.sweep.seeds) or (c.seed,)
  base = common.run_base(c)
  runs = {}
  for seed in seeds:
    for p in c.sweep.levels:
      name = f"p{p:.2f}" + (f"-seed{seed}" if len(seeds) > 1 else "")
      runs[name] = (common.override(base, **{"corruption.kind": "partial_labels", "corruption.p": float(p),
                                             "seed": int(seed)}), {"p": float(p), "seed": int(seed)})
  return common.SweepRuns("figure1bc", runs)
