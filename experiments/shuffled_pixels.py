"""Shuffled pixels (Section 2): one permutation of pixel positions for every train and test image.

The same as ``rethink-jax shuffled_pixels`` (or ``python -m rethink_jax shuffled_pixels``); the code is
``rethink_jax/commands/shuffled_pixels.py``.
"""

from rethink_jax.commands import shuffled_pixels

if __name__ == "__main__":
  shuffled_pixels.main()
