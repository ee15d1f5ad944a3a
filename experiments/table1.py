"""Table 1 (and the Appendix table with the appendix presets).

The same as ``rethink-jax table1`` (or ``python -m rethink_jax table1``); the code is
``rethink_jax/commands/table1.py``.
"""

from rethink_jax.commands import table1

if __name__ == "__main__":
  table1.main()
