"""Memorization, influence and consistency scores (beyond the paper): which examples are memorized?

The same as ``rethink-jax memorization_scores`` (or ``python -m rethink_jax memorization_scores``); the
code is ``rethink_jax/commands/memorization_scores.py``.
"""

from rethink_jax.commands import memorization_scores

if __name__ == "__main__":
  memorization_scores.main()
