"""Figures 1b and 1c, time to fit and test error against label corruption.

Runs (or resumes) every run of the sweep into --workdir (default runs/label_corruption), then
rebuilds its tables and figures from the run records.

  python experiments/label_corruption.py [--config rethink_jax/configs/label_corruption.py:paper]
"""

from rethink_jax import cli, report
from rethink_jax.configs import label_corruption


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("label_corruption", label_corruption.build_runs, report.build, argv)
