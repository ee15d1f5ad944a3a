"""``python -m rethink_jax.report PATH [PATH ...] [--partial]`` (:func:`rethink_jax.report.main`)."""

import sys

from rethink_jax.report.cli import main

if __name__ == "__main__":
  sys.exit(main())
