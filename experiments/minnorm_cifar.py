"""Section 5 on CIFAR-10: min-norm Gaussian kernel on pixels, and random conv features.

The same as ``rethink-jax minnorm_cifar`` (or ``python -m rethink_jax minnorm_cifar``); the code is
``rethink_jax/commands/minnorm_cifar.py``.
"""

from rethink_jax.commands import minnorm_cifar

if __name__ == "__main__":
  minnorm_cifar.main()
