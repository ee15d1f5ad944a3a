"""Figure 2b: test accuracy over training for Inception with and without BatchNorm on
CIFAR-10 (true labels); the report shades the gap to the cumulative best (early stopping).

* ``cpu``: both Inception variants on the first 500 images of the sample, 10 epochs
  (minutes on 2 CPU cores; the shape of the curves, not the paper's numbers).
* ``paper``: full CIFAR-10 from files, 100 epochs, evaluated every epoch.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset)
  c.models = ("inception_small", "inception_small_nobn")
  if preset == "cpu":
    c.train.data.max_train = 500
    c.train.data.max_test = 250
    c.train.num_epochs = 10.0
    c.train.eval_every_steps = 3
    c.train.log_every_steps = 3
  else:
    c.train.num_epochs = 100.0
  return c
