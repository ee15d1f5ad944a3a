"""Figures 1b and 1c, time to fit and test error against label corruption.

The same as ``rethink-jax label_corruption`` (or ``python -m rethink_jax label_corruption``); the code is
``rethink_jax/commands/label_corruption.py``.
"""

from rethink_jax.commands import label_corruption

if __name__ == "__main__":
  label_corruption.main()
