"""Random pixels (Section 2): an independent pixel permutation for each image.

  python experiments/random_pixels.py [--config rethink_jax/configs/random_pixels.py:paper] [--config.model=...]
"""

from rethink_jax import cli


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_single("random_pixels", argv)
