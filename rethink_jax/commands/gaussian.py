"""Gaussian inputs (Section 2): images replaced by noise with the data's per-channel mean and variance.

  python experiments/gaussian.py [--config rethink_jax/configs/gaussian.py:paper] [--config.model=...]
"""

from rethink_jax import cli


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_single("gaussian", argv)
