"""Memorization dynamics (beyond the paper): which examples each network fits, and when,
under label noise (Arpit et al., 2017; Toneva et al., 2019), from per-example records.

For each model, partially corrupted labels at ``levels`` and random labels train as one
vmapped program with ``track_examples`` (every evaluation of the training set keeps, per
example, whether it is fitted and whether the prediction is its clean label). Runs go a
fixed budget (no stop at fit), evaluated once per epoch.

* ``cpu``: MLP 1x512 and AlexNet on the embedded 2,000-image sample, 60 epochs of it.
* ``paper``: MLP 1x512 and AlexNet on full CIFAR-10 from files, 60 epochs (the MLP on 2
  CPU cores: about 2 h; AlexNet: for an accelerator).
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset)
  c.models = ("mlp_1x512", "alexnet_small")
  c.levels = (0.2, 0.4, 0.8)   # partially corrupted labels; random labels are added when random_labels
  c.random_labels = True
  c.vmapped = True
  t = c.train
  t.track_examples = True
  t.stop_at_fit = False
  t.num_epochs = 60.0
  if preset == "cpu":
    t.eval_every_steps = 15     # 2,000 // 128 = 15 steps: once per epoch of the sample
    t.log_every_steps = 15
    t.checkpoint_every_steps = 150
  else:
    t.eval_every_steps = 390    # 50,000 // 128 = 390 steps: once per epoch
    t.log_every_steps = 78
    t.checkpoint_every_steps = 1950
  return c
