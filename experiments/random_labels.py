"""Random labels (paper Section 2): the README's main job.

The same as ``rethink-jax random_labels`` (or ``python -m rethink_jax random_labels``); the code is
``rethink_jax/commands/random_labels.py``.
"""

from rethink_jax.commands import random_labels

if __name__ == "__main__":
  random_labels.main()
