"""Shared command-line plumbing for ``experiments/*.py``.

Every script takes ``--config path.py[:preset]`` (found from any working directory; the
short form ``random_labels:paper`` names the package's own configs), ``--config.key=value``
overrides (ml_collections config flags, as in big_vision and the Flax examples),
``--workdir``, ``--dry_run`` (print the resolved config and the run directory, write
nothing) and ``--help`` (presets, every config key with its default and meaning, flags
and an example).

A user's mistake (a bad or unknown config entry, a run directory holding another run,
missing data) prints one or two lines on stderr and exits with status 2; set
``RETHINK_JAX_TRACEBACK=1`` to see the traceback instead.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import pathlib
import sys
from typing import Callable, NoReturn

import ml_collections

EXIT_USAGE = 2


def config_dir() -> str:
  from rethink_jax import configs
  return os.path.dirname(configs.__file__)


def default_workdir(experiment: str, config: ml_collections.ConfigDict) -> str:
  """``runs/<experiment>/<model>-<corruption>-<source>-seed<seed>-<identity hash>``: a run that
  computes something else (another learning rate, say) gets its own directory."""
  from rethink_jax import corruptions, records

  c = config.corruption
  kind = corruptions.run_name(c.kind, c.p, c.variant)
  name = f"{config.model}-{kind}-{config.data.source}-seed{config.seed}-{records.identity_hash(config)}"
  return str(pathlib.Path("runs") / experiment / name)


def format_summary(summary: dict, workdir: str) -> str:
  from rethink_jax import monitoring

  fit = summary["time_to_fit"]
  fit_text = (f"step {fit['step']} (epoch {fit['epoch']:.1f}, {fit['seconds']:.1f} s of training)"
              if fit else f"not reached (threshold {summary['fit_threshold']:.0%})")
  return "\n".join([
      f"model            {summary['model']} ({summary['num_params']:,} parameters)",
      f"data             {summary['dataset']}",
      f"steps            {summary['step']} (epoch {summary['epoch']:.1f})",
      f"train accuracy   {monitoring.fraction(summary['train_accuracy'])}",
      f"test accuracy    {monitoring.fraction(summary['test_accuracy'])}",
      f"time to fit      {fit_text}",
      f"training time    {summary['train_seconds']:.1f} s",
      f"run directory    {workdir}",
  ])


def _user_errors() -> tuple[type[BaseException], ...]:
  from rethink_jax import records
  from rethink_jax import validation
  from rethink_jax.data import DataError

  return (validation.ConfigError, records.RunDirError, records.RecordError, DataError)


def _exit(message: str, status: int = EXIT_USAGE) -> NoReturn:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(status)


def _default_config_file() -> str:
  """The experiment's own config file: ``--config``'s default (one flag per process)."""
  from absl import flags

  return flags.FLAGS["config"].config_filename if "config" in flags.FLAGS else ""


def resolve_config_path(value: str) -> str:
  """``--config``'s value with its file found from any working directory.

  ``path.py[:preset]`` as given if the file exists; else the documented
  ``rethink_jax/configs/<name>.py[:preset]`` and the short form ``<name>[:preset]`` name the
  package's own config files. A file found nowhere is one clear line and exit status 2.
  """
  path, sep, preset = value.partition(":")
  if os.path.isfile(os.path.expanduser(path)):
    return value
  name = os.path.basename(path)
  own = os.path.join(config_dir(), name if name.endswith(".py") else f"{name}.py")
  documented = path.replace(os.sep, "/").endswith(f"rethink_jax/configs/{name}") or "/" not in path
  if documented and os.path.isfile(own):
    return own + sep + preset
  available = sorted(f[:-3] for f in os.listdir(config_dir()) if f.endswith(".py") and not f.startswith("_")
                     and f not in ("common.py", "schema.py"))
  _exit(f"config file {path} not found; pass a path, or one of the package's configs by name: "
        f"{', '.join(available)} (e.g. --config {available[0]}:cpu).")


def _rewrite_config_arg(argv: list[str]) -> list[str]:
  out = list(argv)
  for i, arg in enumerate(out):
    if arg.startswith("--config="):
      out[i] = "--config=" + resolve_config_path(arg[len("--config="):])
    elif arg == "--config" and i + 1 < len(out):
      out[i + 1] = resolve_config_path(out[i + 1])
  return out


def _config_arg(argv: list[str]) -> str:
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      return arg[len("--config="):]
    if arg == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return _default_config_file()


def _load_config_module(path: str):
  spec = importlib.util.spec_from_file_location("rethink_jax_config_for_help", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def print_help(argv: list[str]) -> None:
  """``--help``: what the script does, its presets, every config key with its default and
  meaning, its flags and an example command (as ``argv[0]`` runs it: a script, or
  ``rethink-jax NAME``)."""
  import __main__

  from absl import flags

  from rethink_jax.configs import schema

  path, _, preset = _config_arg(argv).partition(":")
  module = _load_config_module(path)
  presets = getattr(module, "PRESETS", ())
  default = inspect.signature(module.get_config).parameters["preset"].default
  preset = preset or default
  config = module.get_config(preset)
  # the experiment's own module (rethink_jax/commands/<name>.py, named as its default config) says what it does
  name = os.path.basename(_default_config_file())[:-3]
  command = sys.modules.get(f"rethink_jax.commands.{name}")
  doc = (getattr(command or __main__, "__doc__", None) or "").strip()
  # a docstring's backslash continuation leaves a run of spaces: one example per line, spaces collapsed
  examples = [" ".join(line.split()) for line in doc.splitlines() if line.strip().startswith("python ")]
  if not argv[0].endswith(".py"):  # run as `rethink-jax NAME` or `python -m rethink_jax NAME`: show that form
    examples = [e.replace(f"python experiments/{name}.py", argv[0]) for e in examples]
  shown_path = ("rethink_jax/configs/" + os.path.basename(path) if os.path.dirname(os.path.abspath(path)) ==
                config_dir() else path)
  lines = [doc.split("\n\n")[0], ""]
  if presets:
    lines += [f"Presets: --config {shown_path}:PRESET (or --config {os.path.basename(path)[:-3]}:PRESET) with "
              f"PRESET one of {', '.join(presets)}; default {default}.",
              ""]
  lines.append(f"Config keys (--config.KEY=VALUE), with the values of preset {preset}:")
  entries = list(schema.flatten(config).items())
  width = max(len(k) for k, _ in entries) + 2
  for key, value in entries:
    text = repr(value) if isinstance(value, str) else str(value)
    meaning = schema.describe(key)
    lines.append(f"  {key:<{width}}{text}" + (f"  -- {meaning}" if meaning else ""))
  lines += ["", "Flags:"]
  main_flags = flags.FLAGS.get_key_flags_for_module(f"rethink_jax.commands.{name}") + \
      [f for f in flags.FLAGS.get_key_flags_for_module(__name__) if f.name not in ("config",)]
  shown = set()
  for flag in [flags.FLAGS["config"], *main_flags]:
    if flag.name in shown:
      continue
    shown.add(flag.name)
    lines.append(f"  --{flag.name}: " + " ".join(flag.help.split()))  # absl's note on a repeatable flag: one line
  if examples:
    lines += ["", "Example:", f"  {examples[-1]}"]
  print("\n".join(lines))


def flags_parser(describe: Callable | None = None) -> Callable[[list[str]], list[str]]:
  """absl's parser for ``app.run(..., flags_parser=)``, with config mistakes (unknown key,
  bad value) as one line and status 2, ``--config`` found from any working directory,
  ``--help`` listing the config keys and ``--dry_run`` printing the resolved config and
  ``describe(config)``'s lines (where the script would write; it raises a user error for a
  bad entry) without writing anything."""

  def parse(argv: list[str]) -> list[str]:
    return _parse_flags(argv, describe)

  return parse


def _parse_flags(argv: list[str], describe: Callable | None) -> list[str]:
  from absl import flags

  argv = _rewrite_config_arg(argv)
  if any(a in ("--help", "-h", "--helpshort") for a in argv[1:]):
    try:
      print_help(argv)
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # e.g. an unknown preset
      _exit(f"cannot show the config of {_config_arg(argv)}: {e}")
    sys.exit(0)
  _check_config_file(_config_arg(argv))
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    _exit(f"{e}\nPass --help to see every config key and flag.")
  except (AttributeError, KeyError, TypeError, ValueError) as e:  # raised by a --config.key=value override
    _bad_override(e)
  if len(rest) > 1:  # absl hands positional arguments to main, which would ignore them
    hint = f" (a config entry is --config.{rest[1]})" if "=" in rest[1] else ""
    _exit(f"unexpected argument {rest[1]!r}: every setting is a flag, --name=value{hint}. "
          "Pass --help to see every config key and flag.")
  if flags.FLAGS["dry_run"].value:
    _dry_run(describe)
  return rest


def _check_config_file(value: str) -> None:
  """Loads the config file and builds its preset once before absl does, so that a syntax
  error or an unknown preset is one line, not a traceback from inside the flag parser."""
  path, _, preset = value.partition(":")
  if not path or os.environ.get("RETHINK_JAX_TRACEBACK"):
    return
  try:
    module = _load_config_module(path)
  except SyntaxError as e:
    _exit(f"config file {path}, line {e.lineno}: {e.msg}.")
  except Exception as e:  # anything a config module can raise when it is executed
    _exit(f"config file {path} cannot be loaded: {type(e).__name__}: {e}")
  if not callable(getattr(module, "get_config", None)):
    _exit(f"config file {path} defines no get_config(preset) function.")
  try:
    module.get_config(preset) if preset else module.get_config()
  except Exception as e:  # an unknown preset, above all
    _exit(f"config file {path}{':' + preset if preset else ''}: {e}")


def _dry_run(describe: Callable | None) -> None:
  """Prints the resolved config and where the script would write, then exits 0."""
  from absl import flags

  from rethink_jax.configs import schema

  config = flags.FLAGS["config"].value
  try:  # checked first: a bad entry is one line, with no config printed above it
    lines = describe(config) if describe else [f"workdir {flags.FLAGS['workdir'].value}"]
  except _user_errors() as e:
    _exit(str(e))
  print(f"config {flags.FLAGS['config'].config_filename}:")
  for key, value in schema.flatten(config).items():
    print(f"  {key} = {value!r}")
  for line in lines:
    print(line)
  print("dry run: nothing was trained or written.")
  sys.exit(0)


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


def define_config_flag(config_file: str, help_text: str, argv: list[str] | None = None):
  """``--config`` (ml_collections parses overrides when the flag is defined: errors exit with
  status 2). Its ``--config.KEY=VALUE`` overrides are read from ``argv`` (default ``sys.argv``)."""
  from absl import flags
  from ml_collections import config_flags

  if "dry_run" not in flags.FLAGS:
    flags.DEFINE_bool("dry_run", False, "Print the resolved config and the run directory, then exit without "
                      "training or writing anything.")
  try:
    return config_flags.DEFINE_config_file("config", config_file, help_text, lock_config=False, sys_argv=argv)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    _bad_override(e)


def dry_run_lines(check: Callable, workdir_flag, where: Callable | None = None) -> Callable:
  """What ``--dry_run`` prints for a script with its own ``main`` (min-norm, Theorem 1,
  ImageNet), for :func:`flags_parser`: ``check(config)`` validates every entry (a bad one is
  one line and exit 2), then where the script would write (``where(config)``, or
  ``workdir_flag``'s ``results.json``)."""

  def describe(config):
    check(config)
    return [where(config) if where else f"results directory {workdir_flag.value} (results.json)"]

  return describe


def run_script(experiment: str, run: Callable, check: Callable, workdir: tuple[str, str],
               argv: list[str] | None = None) -> None:
  """``main`` of a script with its own ``run(config, workdir)`` (min-norm, Theorem 1):
  ``workdir`` is the ``--workdir`` flag's (default, help); ``--dry_run`` checks and
  describes (:func:`dry_run_lines`), otherwise ``run`` with user errors as one line.
  ``argv``: the command line (default ``sys.argv``)."""
  from absl import app, flags, logging

  config_flag = define_config_flag(os.path.join(config_dir(), f"{experiment}.py"), "Config file[:preset].", argv)
  workdir_flag = flags.DEFINE_string("workdir", workdir[0], workdir[1])

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax and absl log at INFO
    run_main(lambda: run(config_flag.value, workdir_flag.value))

  app.run(main, argv=argv, flags_parser=flags_parser(dry_run_lines(check, workdir_flag)))


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


def flags_value_of_config() -> str:
  """The ``--config`` value as the user gave it (file and preset)."""
  from absl import flags

  return flags.FLAGS["config"].config_filename if "config" in flags.FLAGS else ""


def _flags(experiment: str, workdir_default: str | None, argv: list[str] | None):
  from absl import flags

  config = define_config_flag(os.path.join(config_dir(), f"{experiment}.py"), "Config file[:preset].", argv)
  workdir = flags.DEFINE_string("workdir", workdir_default, "Run (or sweep) directory.")
  return config, workdir


def run_single(experiment: str, argv: list[str] | None = None) -> None:
  """``main`` of a one-run script: train, then print the summary. ``argv``: the command
  line (default ``sys.argv``)."""
  from absl import app, logging

  from rethink_jax import train

  config_flag, workdir_flag = _flags(experiment, None, argv)

  def single_run_config(config):
    from rethink_jax import validation

    if "sweep" in config:
      raise validation.ConfigError(f"--config {flags_value_of_config()} is a sweep's config; {experiment}.py trains "
                                   f"one run (e.g. --config {experiment}:cpu). Run a sweep with its own script.")
    return config

  def describe(config):
    from rethink_jax import validation

    validation.check(single_run_config(config), "single")
    return [f"run directory {workdir_flag.value or config.workdir or default_workdir(experiment, config)}"]

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO

    def go():
      config = single_run_config(config_flag.value)
      workdir = workdir_flag.value or config.workdir or default_workdir(experiment, config)
      summary = train.train_and_evaluate(config, workdir)
      print(format_summary(summary, workdir))

    run_main(go)

  app.run(main, argv=argv, flags_parser=flags_parser(describe))


def run_sweep_script(experiment: str, build: Callable, report: Callable, argv: list[str] | None = None) -> None:
  """``main`` of a sweep script: run (or resume) every run, then rebuild its report.
  ``argv``: the command line (default ``sys.argv``)."""
  from absl import app, flags, logging

  from rethink_jax import sweep
  from rethink_jax.configs import schema

  config_flag, workdir_flag = _flags(experiment, str(pathlib.Path("runs") / experiment), argv)
  only = flags.DEFINE_string("only", None, "Run just this run of the sweep (by name).")
  reuse = flags.DEFINE_multi_string("reuse", [], "Another sweep directory whose finished runs are taken (their records "
                                    "copied) where one computes exactly what a run of this sweep asks")

  def sweep_runs(config):
    from rethink_jax import validation

    if "sweep" not in config:
      raise validation.ConfigError(f"--config {flags_value_of_config()} is a single run's config; {experiment}.py "
                                   f"runs a sweep and takes one of its own (e.g. --config {experiment}:cpu).")
    validation.check_sweep(config)
    if config.get("workdir"):  # each run's directory is --workdir/<run name>
      raise validation.ConfigError(f"config.workdir = {config.workdir!r}: a sweep's directory is --workdir "
                                   f"(default runs/{experiment}); --config.workdir names a single run's.")
    runs = build(config)
    sweep.check_only(runs, only.value)  # here too: --dry_run checks it
    return runs

  def describe(config):
    from rethink_jax import validation

    runs = sweep_runs(config)
    vmapped = schema.setting(config, "sweep.vmapped")
    for cfg, _ in runs.values():
      validation.check(cfg, "single")
    reused = sweep.check_reuse(reuse.value, workdir_flag.value)

    def line(name, cfg):
      run_dir = pathlib.Path(workdir_flag.value) / sweep.run_dir_name(workdir_flag.value, name, cfg)
      source = None if run_dir.exists() else sweep.find_reusable(cfg, reused)
      return f"  {run_dir}" + (f"  (taken from {source})" if source else "")

    return [f"sweep directory {workdir_flag.value} ({runs.artifact}, {len(runs)} runs"
            + (", vmapped where they differ only in labels or seeds" if vmapped else "") + "):"] \
        + [line(name, cfg) for name, (cfg, _) in runs.items()]

  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def go():
      config = config_flag.value
      sweep.run_sweep(sweep_runs(config), workdir_flag.value, only=only.value,
                      vmapped=schema.setting(config, "sweep.vmapped"), reuse=reuse.value)
      for path in report(workdir_flag.value, partial=bool(only.value)):  # --only leaves the others as they are
        print(f"wrote {path}")

    run_main(go)

  app.run(main, argv=argv, flags_parser=flags_parser(describe))
