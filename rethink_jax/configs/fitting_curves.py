"""Figure 1a: training loss against steps for true labels, random labels, shuffled pixels,
random pixels and Gaussian inputs, same model and hyperparameters.

* ``cpu``: MLP 1x512 on the embedded sample, 100 epochs of it.
* ``paper``: full CIFAR-10 from files, 100 epochs; the paper's figure uses Inception (with
  ``stop_at_fit``, its true- and random-labels runs are Table 1's rows without crop or
  weight decay, which ``--reuse`` takes from a Table 1 sweep instead of training again):
    python experiments/fitting_curves.py --config rethink_jax/configs/fitting_curves.py:paper \
        --config.data.data_dir=~/data --config.model=inception_small --config.optim.lr=0.1 \
        --config.stop_at_fit=True --reuse runs/table1
"""

from rethink_jax import paper
from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset, ("kinds",))
  c.num_epochs = 100.0
  c.sweep.kinds = paper.FIGURE1_KINDS
  return c


def build_runs(c) -> common.SweepRuns:
  """Figure 1a: the randomization tests of ``sweep.kinds``, same model and hyperparameters."""
  base = common.run_base(c)
  return common.SweepRuns("figure1a", {kind: (common.override(base, **{"corruption.kind": kind}), {"kind": kind})
                                       for kind in c.sweep.kinds})
