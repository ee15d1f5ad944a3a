"""Shared command-line plumbing for ``experiments/*.py``.

Every script takes ``--config path.py[:preset]`` and ``--config.key=value`` overrides
(ml_collections config flags, as in big_vision and the Flax examples) and ``--workdir``.

A user's mistake (a bad or unknown config entry, a run directory holding another run,
missing data) prints one or two lines on stderr and exits with status 2; set
``RETHINK_JAX_TRACEBACK=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import pathlib
import sys
from typing import Callable

import ml_collections

EXIT_USAGE = 2


def config_dir() -> str:
  from rethink_jax import configs
  return os.path.dirname(configs.__file__)


def default_workdir(experiment: str, config: ml_collections.ConfigDict) -> str:
  """``runs/<experiment>/<model>-<corruption>-<source>-seed<seed>-<identity hash>``: a run that
  computes something else (another learning rate, say) gets its own directory."""
  from rethink_jax import records

  c = config.corruption
  kind = c.kind + (f"{c.p:g}" if c.kind in ("partial_labels", "asymmetric_labels") else "") + \
      (f"-{c.get('variant', '')}" if c.kind == "cifar10n" else "")
  name = f"{config.model}-{kind}-{config.data.source}-seed{config.seed}-{records.identity_hash(config)}"
  return str(pathlib.Path("runs") / experiment / name)


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


def _user_errors() -> tuple[type[BaseException], ...]:
  from rethink_jax import records
  from rethink_jax.configs import validate
  from rethink_jax.data import DataError

  return (validate.ConfigError, records.RunDirError, records.RecordError, DataError)


def _exit(message: str, status: int = EXIT_USAGE) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(status)


def flags_parser(argv):
  """absl's parser, with config mistakes (unknown key, bad value) as one line and status 2."""
  from absl import flags

  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _exit(f"{e}\nPass --helpfull to see every flag.")
  except (AttributeError, KeyError, TypeError, ValueError) as e:  # raised by a --config.key=value override
    _bad_override(e)


def _bad_override(e: BaseException) -> None:
  """ml_collections reports an unknown key as a KeyError inside an AttributeError, with its
  'Did you mean' suggestion; one line of it is enough."""
  if os.environ.get("RETHINK_JAX_TRACEBACK"):
    raise e
  inner = e
  while inner.args and isinstance(inner.args[0], BaseException):
    inner = inner.args[0]
  lines = str(inner.args[0] if inner.args else inner).split("\n")
  if isinstance(inner, KeyError):
    _exit(f"unknown config key {lines[0]}" + (f"; {' '.join(lines[1:])}" if len(lines) > 1 else ""))
  _exit("bad --config override: " + " ".join(lines))


def define_config_flag(config_file: str, help_text: str):
  """``--config`` (ml_collections parses overrides when the flag is defined: errors exit with status 2)."""
  from ml_collections import config_flags

  try:
    return config_flags.DEFINE_config_file("config", config_file, help_text, lock_config=False)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    _bad_override(e)


def run_main(main: Callable[[], None]) -> None:
  """Runs ``main`` turning user errors into one line and exit status 2 (1 for a diverged run)."""
  from rethink_jax import loop

  try:
    main()
  except _user_errors() as e:
    if os.environ.get("RETHINK_JAX_TRACEBACK"):
      raise
    _exit(str(e))
  except loop.NonFiniteLossError as e:
    if os.environ.get("RETHINK_JAX_TRACEBACK"):
      raise
    _exit(str(e), status=1)


def _flags(experiment: str, workdir_default: str | None):
  from absl import flags

  config = define_config_flag(os.path.join(config_dir(), f"{experiment}.py"), "Config file[:preset].")
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

    def go():
      config = config_flag.value
      workdir = workdir_flag.value or config.workdir or default_workdir(experiment, config)
      summary = train.train_and_evaluate(config, workdir)
      print(format_summary(summary, workdir))

    run_main(go)

  app.run(main, flags_parser=flags_parser)


def run_sweep_script(experiment: str, build: Callable, report: Callable) -> None:
  """``main`` of a sweep script: run (or resume) every run, then rebuild its report."""
  from absl import app, flags, logging

  from rethink_jax import sweep

  config_flag, workdir_flag = _flags(experiment, str(pathlib.Path("runs") / experiment))
  only = flags.DEFINE_string("only", None, "Run just this run of the sweep (by name).")

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def go():
      config = config_flag.value
      sweep.run_sweep(build(config), workdir_flag.value, only=only.value, vmapped=config.get("vmapped", False))
      for path in report(workdir_flag.value):
        print(f"wrote {path}")

    run_main(go)

  app.run(main, flags_parser=flags_parser)
