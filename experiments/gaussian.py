"""Gaussian inputs (Section 2): images replaced by noise with the data's per-channel mean and variance.

The same as ``rethink-jax gaussian`` (or ``python -m rethink_jax gaussian``); the code is
``rethink_jax/commands/gaussian.py``.
"""

from rethink_jax.commands import gaussian

if __name__ == "__main__":
  gaussian.main()
