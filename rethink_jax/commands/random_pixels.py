"""Random pixels (Section 2): an independent pixel permutation for each image.

  python experiments/random_pixels.py [--config rethink_jax/configs/random_pixels.py:paper] [--config.model=...]
"""

from rethink_jax import cli


def main() -> None:
  """Runs this experiment with the command line's flags (``sys.argv``)."""
  cli.run_single("random_pixels")
