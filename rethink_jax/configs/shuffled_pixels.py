"""Shuffled pixels (Section 2): one permutation of pixel positions for every train and test image.

* ``cpu`` (default): MLP 1x512 on the embedded sample until 100% train accuracy.
    python experiments/shuffled_pixels.py
* ``paper``: full CIFAR-10 from files, the paper's settings.
    python experiments/shuffled_pixels.py --config rethink_jax/configs/shuffled_pixels.py:paper --config.data.data_dir=~/data
  Expected (Figure 1a): the network still reaches 100% train accuracy, test accuracy at chance.
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  return common.randomization_config("shuffled_pixels", preset)
