"""Theorem 1 (Section 4) and the Rademacher argument (Section 2.3) on real CIFAR-10 images.

Presets:
* ``cpu`` (default): the embedded sample; n = 250 .. 2000; Rademacher estimates for a
  linear model, Theorem 1's network and MLP 1x512 (training engine) on 1,000 images.
    python experiments/theorem1.py
* ``paper`` (or ``full``): the full training set from files; n up to 50,000 (about a
  minute per n on 2 CPU cores at n = 50,000); MLP Rademacher on 2,000 images.
    python experiments/theorem1.py --config rethink_jax/configs/theorem1.py:paper \
        --config.data.data_dir=~/data
Expected: every n fitted with zero training error; test accuracy near 10% (chance);
Rademacher estimate 1.0 for Theorem 1's network and MLP 1x512, well below 1 for a
linear model on d < n points.
"""

import ml_collections

from rethink_jax.configs import common

PRESETS = ("cpu", "paper", "full")  # 'full' is the same as 'paper'


def get_config(preset: str = "cpu"):
  preset = "paper" if preset == "full" else preset
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "cifar10", "source": "sample", "data_dir": ""})
  c.theta = 0.1
  c.one_hot = True              # fit one-hot random labels (classify by argmax)
  c.rademacher = ml_collections.ConfigDict()
  c.rademacher.num_draws = 5
  c.rademacher.linear_dims = 100   # linear model on the first d pixels (d < n)
  c.rademacher.mlp = True
  mlp = common.base_config()
  mlp.model = "mlp_1x512"
  mlp.num_epochs = 300.0
  mlp.stop_at_fit = True
  mlp.eval_every_steps = 16
  mlp.log_every_steps = 16
  mlp.checkpoint_every_steps = 100_000
  mlp.progress = False
  c.rademacher.train = mlp
  if preset == "cpu":
    c.sizes = (250, 500, 1000, 2000)
    c.rademacher.n = 1000
  elif preset == "paper":
    c.data.source = "files"
    c.sizes = (1000, 5000, 10000, 25000, 50000)
    c.rademacher.n = 2000
  else:
    raise ValueError(f"Unknown preset {preset!r}; choose 'cpu' or 'paper'.")
  return c
