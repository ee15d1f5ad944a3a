"""Memorization dynamics (beyond the paper): which examples each network fits, and when,
under label noise (Arpit et al., 2017; Toneva et al., 2019), from per-example records.

For each model, partially corrupted labels at ``sweep.levels`` and random labels train as
one vmapped program with ``track_examples`` (every evaluation of the training set keeps,
per example, whether it is fitted and whether the prediction is its clean label). Runs go
a fixed budget (no stop at fit), evaluated once per epoch.

* ``cpu``: MLP 1x512 and AlexNet on the embedded 2,000-image sample, 60 epochs of it.
* ``paper``: MLP 1x512 and AlexNet on full CIFAR-10 from files, 60 epochs (the MLP on 2
  CPU cores: about 2 h; AlexNet: for an accelerator).
    python experiments/memorization.py --config rethink_jax/configs/memorization.py:paper \
        --config.data.data_dir=~/data --config.model=mlp_1x512
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.model_sweep_config(preset, ("mlp_1x512", "alexnet_small"), ("levels", "random_labels", "vmapped"))
  c.sweep.levels = (0.2, 0.4, 0.8)   # partially corrupted labels; random labels are added when random_labels
  c.sweep.random_labels = True
  c.sweep.vmapped = True
  c.track_examples = True
  c.stop_at_fit = False
  c.num_epochs = 60.0
  if preset == "cpu":
    c.eval_every_steps = 15     # 2,000 // 128 = 15 steps: once per epoch of the sample
    c.log_every_steps = 15
    c.checkpoint_every_steps = 150
  else:
    c.eval_every_steps = 390    # 50,000 // 128 = 390 steps: once per epoch
    c.log_every_steps = 78
    c.checkpoint_every_steps = 1950
  return c


def build_runs(c) -> common.SweepRuns:
  """For each model, partially corrupted labels at each level in ``sweep.levels`` and (with
  ``sweep.random_labels``) random labels, every run with per-example records
  (``track_examples``)."""
  runs = {}
  for model in common.sweep_models(c):
    base = common.override(common.model_run(c, model), track_examples=True)
    for p in c.sweep.levels:
      runs[f"{model}-p{p:.2f}"] = (common.override(base, **{"corruption.kind": "partial_labels",
                                                            "corruption.p": float(p)}),
                                   {"model": model, "p": float(p)})
    if c.sweep.random_labels:
      runs[f"{model}-random_labels"] = (common.override(base, **{"corruption.kind": "random_labels"}),
                                        {"model": model, "p": 1.0})
  return common.SweepRuns("memorization", runs)
