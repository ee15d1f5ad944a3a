"""Memorization dynamics (beyond the paper): clean examples first, noise later?

Runs (or resumes) the sweep into --workdir (default runs/memorization): for each model,
partially corrupted labels at each level and random labels as one vmapped program, each
run keeping per-example records (examples.npz); then rebuilds the report from them
(memorization.md, memorization-<model>.png).

  python experiments/memorization.py [--config rethink_jax/configs/memorization.py:paper]
"""

from rethink_jax import cli, report
from rethink_jax.configs import memorization


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("memorization", memorization.build_runs, report.build, argv)
