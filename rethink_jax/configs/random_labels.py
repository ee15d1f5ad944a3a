"""Random labels (Section 2, Table 1 "random labels" rows): fit labels drawn uniformly at random.

Presets:
* ``cpu`` (default): MLP 1x512 on the embedded 2,000-image CIFAR-10 sample, trained until
  100% train accuracy (evaluated every 2 epochs). Measured on 2 CPU cores: a few minutes.
    python experiments/random_labels.py
* ``paper``: full CIFAR-10 (``data.source=files``), the paper's settings, up to 100 epochs.
    python experiments/random_labels.py --config rethink_jax/configs/random_labels.py:paper \
        --config.data.data_dir=~/data --config.model=inception_small --config.optim.lr=0.1
  Expected (Table 1): 100% train accuracy, test accuracy near chance (about 10%).
"""

from rethink_jax.configs import common


def get_config(preset: str = "cpu"):
  c = common.base_config()
  c.corruption.kind = "random_labels"
  c.stop_at_fit = True
  if preset == "cpu":
    c.num_epochs = 400.0
    c.eval_every_steps = 30      # 2 epochs of the 2,000-image sample at batch 128
    c.log_every_steps = 15
    c.checkpoint_every_steps = 300
  elif preset == "paper":
    c.data.source = "files"
    c.num_epochs = 100.0
    c.eval_every_steps = 390     # one CIFAR-10 epoch
    c.log_every_steps = 78
    c.checkpoint_every_steps = 1950
  else:
    raise ValueError(f"Unknown preset {preset!r}; choose 'cpu' or 'paper'.")
  return c
