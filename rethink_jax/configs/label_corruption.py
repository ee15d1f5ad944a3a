"""Figures 1b and 1c: partially corrupted labels at levels 0.0, 0.1, ..., 1.0.

Each run stops when the train set (with its corrupted labels) is fitted (time to fit,
Figure 1b); test error is read at that point (Figure 1c).

* ``cpu``: MLP 1x512 on the embedded sample, at most 400 epochs of it.
* ``paper``: full CIFAR-10 from files, at most 200 epochs.

All levels train as one vmapped program (``vmapped``; each run still stops at its own fit
and writes its own record). ``seeds=(0, 1, 2)`` repeats every level per seed and the report
draws mean ± std error bars.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset)
  c.levels = tuple(round(0.1 * i, 1) for i in range(11))
  c.train.stop_at_fit = True
  c.train.num_epochs = 400.0 if preset == "cpu" else 200.0
  c.seeds = ()          # () : just train.seed
  c.vmapped = True
  return c
