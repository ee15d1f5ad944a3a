"""Shared command-line plumbing for ``experiments/*.py``: config flags, workdir, printing."""

from __future__ import annotations

import json
import os
import pathlib

import ml_collections


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


def config_dir() -> str:
  from rethink_jax import configs
  return os.path.dirname(configs.__file__)


def dump(config) -> str:
  return json.dumps(config.to_dict(), indent=1, sort_keys=True)
