"""Figure 2b, test accuracy over training with the cumulative best shaded.

Runs (or resumes) every run of the sweep into --workdir (default runs/implicit_regularization), then
rebuilds its tables and figures from the run records.

  python experiments/implicit_regularization.py [--config rethink_jax/configs/implicit_regularization.py:paper]
"""

from rethink_jax import cli, report
from rethink_jax.configs import implicit_regularization


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("implicit_regularization", implicit_regularization.build_runs, report.build, argv)
