"""Shuffled pixels (Section 2): one permutation of pixel positions for every train and test image.

  python experiments/shuffled_pixels.py [--config rethink_jax/configs/shuffled_pixels.py:paper] [--config.model=...]
"""

from rethink_jax import cli


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_single("shuffled_pixels", argv)
