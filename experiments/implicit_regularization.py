"""Figure 2b, test accuracy over training with the cumulative best shaded.

The same as ``rethink-jax implicit_regularization`` (or ``python -m rethink_jax implicit_regularization``); the code is
``rethink_jax/commands/implicit_regularization.py``.
"""

from rethink_jax.commands import implicit_regularization

if __name__ == "__main__":
  implicit_regularization.main()
