"""Memorization, influence and consistency scores (beyond the paper): which training examples
a network needs to memorize, and what memorizing them does to the test set.

K runs of one network, each trained on its own random subset of the training set
(``subset.ratio``, drawn once from the run's keys; label noise drawn once and shared by all
runs), train as one vmapped program per ratio on images that stay on the devices. At the end
every run records each example's correctness and margin on the whole training set and the
test set (``predictions.npz``); the report estimates memorization and influence (Feldman &
Zhang, 2020) and held-out accuracy and C-scores over the ratios (Jiang et al., 2021).

* ``cpu``: MLP 1x512 on the embedded 2,000-image sample with 20% of its labels corrupted
  (``partial_labels``, p = 0.2), 16 runs on random 70% subsets, 40 epochs of each subset:
  the corrupted examples should come out as the most memorized.
* ``paper``: MLP 1x512 on all of CIFAR-10 from files, true labels, 64 runs on random 70%
  subsets, 25 epochs of each subset: one hour on 2 CPU cores (64 runs as one program trained
  17,400 images/s there; ``results/memorization_scores_cifar10/``).
    python experiments/memorization_scores.py --config rethink_jax/configs/memorization_scores.py:paper \
        --config.data.data_dir=~/data
  With 20% label noise: ``--config.corruption.kind=partial_labels --config.corruption.p=0.2``;
  C-scores over several ratios: ``--config.sweep.ratios='(0.1,0.3,0.5,0.7,0.9)'`` (with
  ``--config.sweep.runs=32``: 79 min of training steps on 2 cores for the four ratios other
  than 0.7, whose runs ``--reuse`` took from this preset's sweep;
  ``results/memorization_scores_cifar10_cscore/``); more runs: ``--config.sweep.runs=128``.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset, ("runs", "ratios", "vmapped"))
  c.sweep.vmapped = True
  c.sweep.ratios = (0.7,)
  c.stop_at_fit = False  # a fixed budget: every run trains as long on its subset
  if preset == "cpu":
    c.corruption.kind, c.corruption.p = "partial_labels", 0.2
    c.sweep.runs = 16
    c.num_epochs = 40.0
    c.eval_every_steps = 50       # 1,400 // 128 = 10 steps per epoch of a 70% subset
    c.log_every_steps = 10
    c.checkpoint_every_steps = 100
  else:
    c.sweep.runs = 64
    c.num_epochs = 25.0
    c.eval_every_steps = 1365     # 35,000 // 128 = 273 steps per epoch of a 70% subset: every 5 epochs
    c.log_every_steps = 273
    c.checkpoint_every_steps = 819  # every 3 epochs: about 15 minutes of 64 runs on 2 cores
  return c


def build_runs(c) -> common.SweepRuns:
  """``sweep.runs`` runs at each ratio of ``sweep.ratios``, run ``i`` on subset ``subset.index = i``
  (one vmapped group per ratio)."""
  base = common.run_base(c)
  runs = {}
  for ratio in c.sweep.ratios:
    for i in range(c.sweep.runs):
      runs[f"ratio{ratio:.2f}-run{i:03d}"] = (common.override(base, **{"subset.ratio": float(ratio), "subset.index": i}),
                                              {"ratio": float(ratio), "index": i})
  return common.SweepRuns("memorization_scores", runs)
