"""Figure 1a, training loss for the five randomization tests.

Runs (or resumes) every run of the sweep into --workdir (default runs/fitting_curves), then
rebuilds its tables and figures from the run records.

  python experiments/fitting_curves.py [--config rethink_jax/configs/fitting_curves.py:paper]
"""

from rethink_jax import cli, report
from rethink_jax.configs import fitting_curves


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("fitting_curves", fitting_curves.build_runs, report.build, argv)
