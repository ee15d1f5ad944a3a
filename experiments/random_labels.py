"""Random labels (paper Section 2): the README's main job.

With no arguments: MLP 1x512 on the embedded CIFAR-10 sample with random labels, trained
until 100% train accuracy; prints train/test accuracy and time to fit.

  python experiments/random_labels.py
  python experiments/random_labels.py --config rethink_jax/configs/random_labels.py:paper \
      --config.data.data_dir=~/data --config.model=alexnet_small
"""

import os

from absl import app, flags, logging
from ml_collections import config_flags

from rethink_jax import cli, train

_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(cli.config_dir(), "random_labels.py"), "Config file[:preset].", lock_config=False)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/random_labels/...).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
  config = _CONFIG.value
  workdir = _WORKDIR.value or config.workdir or cli.default_workdir("random_labels", config)
  summary = train.train_and_evaluate(config, workdir)
  print(cli.format_summary(summary, workdir))


if __name__ == "__main__":
  app.run(main)
