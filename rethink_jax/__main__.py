"""``python -m rethink_jax EXPERIMENT [flags]``: every experiment from the installed package."""

from rethink_jax import commands

if __name__ == "__main__":
  commands.main(prog="python -m rethink_jax")
