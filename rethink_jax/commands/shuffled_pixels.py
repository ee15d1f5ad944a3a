"""Shuffled pixels (Section 2): one permutation of pixel positions for every train and test image.

  python experiments/shuffled_pixels.py [--config rethink_jax/configs/shuffled_pixels.py:paper] [--config.model=...]
"""

from rethink_jax import cli


def main() -> None:
  """Runs this experiment with the command line's flags (``sys.argv``)."""
  cli.run_single("shuffled_pixels")
