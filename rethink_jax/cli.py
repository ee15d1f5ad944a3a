"""Shared command-line plumbing for ``experiments/*.py``.

Every script takes ``--config path.py[:preset]`` and ``--config.key=value`` overrides
(ml_collections config flags, as in big_vision and the Flax examples) and ``--workdir``.
"""

from __future__ import annotations

import os
import pathlib
from typing import Callable

import ml_collections


def config_dir() -> str:
  from rethink_jax import configs
  return os.path.dirname(configs.__file__)


def default_workdir(experiment: str, config: ml_collections.ConfigDict) -> str:
  kind = config.corruption.kind + (f"{config.corruption.p:g}" if config.corruption.kind == "partial_labels" else "")
  return str(pathlib.Path("runs") / experiment / f"{config.model}-{kind}-{config.data.source}-seed{config.seed}")


def format_summary(summary: dict, workdir: str) -> str:
  fit = summary["time_to_fit"]
  fit_text = (f"step {fit['step']} (epoch {fit['epoch']:.1f}, {fit['seconds']:.1f} s of training)"
              if fit else f"not reached (threshold {summary['fit_threshold']:.0%})")
  return "\n".join([
      f"model            {summary['model']} ({summary['num_params']:,} parameters)",
      f"data             {summary['dataset']}",
      f"steps            {summary['step']} (epoch {summary['epoch']:.1f})",
      f"train accuracy   {summary['train_accuracy']:.4f}",
      f"test accuracy    {summary['test_accuracy']:.4f}",
      f"time to fit      {fit_text}",
      f"training time    {summary['train_seconds']:.1f} s",
      f"run directory    {workdir}",
  ])


def _flags(experiment: str, workdir_default: str | None):
  from absl import flags
  from ml_collections import config_flags

  config = config_flags.DEFINE_config_file("config", os.path.join(config_dir(), f"{experiment}.py"),
                                           "Config file[:preset].", lock_config=False)
  workdir = flags.DEFINE_string("workdir", workdir_default, "Run (or sweep) directory.")
  return config, workdir


def run_single(experiment: str) -> None:
  """``main`` of a one-run script: train, then print the summary."""
  from absl import app, logging

  from rethink_jax import train

  config_flag, workdir_flag = _flags(experiment, None)

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO
    config = config_flag.value
    workdir = workdir_flag.value or config.workdir or default_workdir(experiment, config)
    summary = train.train_and_evaluate(config, workdir)
    print(format_summary(summary, workdir))

  app.run(main)


def run_sweep_script(experiment: str, build: Callable, report: Callable) -> None:
  """``main`` of a sweep script: run (or resume) every run, then rebuild its report."""
  from absl import app, flags, logging

  from rethink_jax import sweep

  config_flag, workdir_flag = _flags(experiment, str(pathlib.Path("runs") / experiment))
  only = flags.DEFINE_string("only", None, "Run just this run of the sweep (by name).")

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    config = config_flag.value
    sweep.run_sweep(build(config), workdir_flag.value, only=only.value, vmapped=config.get("vmapped", False))
    for path in report(workdir_flag.value):
      print(f"wrote {path}")

  app.run(main)
