"""Theorem 1 and the Rademacher complexity argument on real CIFAR-10 images.

The same as ``rethink-jax theorem1`` (or ``python -m rethink_jax theorem1``); the code is
``rethink_jax/commands/theorem1.py``.
"""

from rethink_jax.commands import theorem1

if __name__ == "__main__":
  theorem1.main()
