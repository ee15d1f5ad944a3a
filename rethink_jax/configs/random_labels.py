"""Random labels (Section 2, Table 1 "random labels" rows): labels drawn uniformly at random.

* ``cpu`` (default): MLP 1x512 on the embedded sample until 100% train accuracy; about 10 s.
    python experiments/random_labels.py
* ``paper``: full CIFAR-10 (``data.source=files``), the paper's settings.
    python experiments/random_labels.py --config rethink_jax/configs/random_labels.py:paper \
        --config.data.data_dir=~/data --config.model=inception_small --config.optim.lr=0.1
  Expected (Table 1): 100% train accuracy, test accuracy near chance (about 10%).
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  return common.randomization_config("random_labels", preset)
