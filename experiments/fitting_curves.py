"""Figure 1a, training loss for the five randomization tests.

The same as ``rethink-jax fitting_curves`` (or ``python -m rethink_jax fitting_curves``); the code is
``rethink_jax/commands/fitting_curves.py``.
"""

from rethink_jax.commands import fitting_curves

if __name__ == "__main__":
  fitting_curves.main()
