"""Section 5 on MNIST: exact min-norm interpolation, raw pixels and Gabor features.

The same as ``rethink-jax minnorm_mnist`` (or ``python -m rethink_jax minnorm_mnist``); the code is
``rethink_jax/commands/minnorm_mnist.py``.
"""

from rethink_jax.commands import minnorm_mnist

if __name__ == "__main__":
  minnorm_mnist.main()
