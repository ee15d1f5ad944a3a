"""Random pixels (Section 2): an independent pixel permutation for each image.

The same as ``rethink-jax random_pixels`` (or ``python -m rethink_jax random_pixels``); the code is
``rethink_jax/commands/random_pixels.py``.
"""

from rethink_jax.commands import random_pixels

if __name__ == "__main__":
  random_pixels.main()
