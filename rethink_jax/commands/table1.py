"""Table 1 (and the Appendix table with the appendix presets).

Runs (or resumes) every run of the sweep into --workdir (default runs/table1), then
rebuilds its tables and figures from the run records.

  python experiments/table1.py [--config rethink_jax/configs/table1.py:paper]
"""

from rethink_jax import cli, report
from rethink_jax.configs import table1


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("table1", table1.build_runs, report.build, argv)
