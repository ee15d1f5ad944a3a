"""Random labels (paper Section 2): the README's main job.

With no arguments: MLP 1x512 on the embedded CIFAR-10 sample with random labels, trained
until 100% train accuracy; prints train/test accuracy and time to fit.

  python experiments/random_labels.py
  python experiments/random_labels.py --config rethink_jax/configs/random_labels.py:paper \
      --config.data.data_dir=~/data --config.model=alexnet_small
"""

from rethink_jax import cli


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_single("random_labels", argv)
