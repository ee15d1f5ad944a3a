"""Memorization dynamics (beyond the paper): clean examples first, noise later?

The same as ``rethink-jax memorization`` (or ``python -m rethink_jax memorization``); the code is
``rethink_jax/commands/memorization.py``.
"""

from rethink_jax.commands import memorization

if __name__ == "__main__":
  memorization.main()
