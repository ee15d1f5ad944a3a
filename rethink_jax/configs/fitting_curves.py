"""Figure 1a: training loss against steps for true labels, random labels, shuffled pixels,
random pixels and Gaussian inputs, same model and hyperparameters.

* ``cpu``: MLP 1x512 on the embedded sample, 100 epochs of it.
* ``paper``: full CIFAR-10 from files; the paper's figure uses Inception
  (``--config.train.model=inception_small --config.train.optim.lr=0.1``); 100 epochs.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.sweep_config(preset)
  c.train.num_epochs = 100.0
  return c
