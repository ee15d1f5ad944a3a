"""Gaussian inputs (Section 2): images replaced by noise with the data's per-channel mean and variance.

* ``cpu`` (default): MLP 1x512 on the embedded sample until 100% train accuracy.
    python experiments/gaussian.py
* ``paper``: full CIFAR-10 from files, the paper's settings.
    python experiments/gaussian.py --config rethink_jax/configs/gaussian.py:paper --config.data.data_dir=~/data
  Expected (Figure 1a): the network still reaches 100% train accuracy, test accuracy at chance.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  return common.randomization_config("gaussian", preset)
