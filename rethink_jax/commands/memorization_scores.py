"""Memorization, influence and consistency scores (beyond the paper): which examples are memorized?

Runs (or resumes) the sweep into --workdir (default runs/memorization_scores): K runs per
subset ratio, each on its own random subset of the training set, as one vmapped program per
ratio, each recording every example's correctness and margin at the end (predictions.npz);
then rebuilds the report from them (memorization_scores.md, scores.npz and its figures).

  python experiments/memorization_scores.py [--config rethink_jax/configs/memorization_scores.py:paper \
      --config.data.data_dir=~/data]
"""

from rethink_jax import cli, report
from rethink_jax.configs import memorization_scores


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_sweep_script("memorization_scores", memorization_scores.build_runs, report.build, argv)
