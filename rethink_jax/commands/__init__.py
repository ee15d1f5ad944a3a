"""Every experiment as a command of the installed package: ``rethink-jax NAME [flags]`` or
``python -m rethink_jax NAME [flags]``, the same presets, flags, ``--help`` and
``--dry_run`` as ``python experiments/NAME.py`` (each of which runs the module of the same
name here). ``rethink-jax --help`` lists them.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import pathlib
import sys

__all__ = ["NAMES", "describe", "main"]

_HERE = pathlib.Path(__file__).parent
NAMES = tuple(sorted(p.stem for p in _HERE.glob("*.py") if not p.stem.startswith("_")))


def describe(name: str) -> str:
  """The first line of a command's docstring (read without importing it: importing a command
  defines its flags)."""
  doc = ast.get_docstring(ast.parse((_HERE / f"{name}.py").read_text())) or ""
  return doc.split("\n", 1)[0]


def _usage(prog: str) -> str:
  width = max(map(len, NAMES)) + 2
  lines = [f"usage: {prog} EXPERIMENT [--config FILE[:PRESET]] [--config.KEY=VALUE ...] [--workdir DIR] "
           "[--dry_run] [--help]", "", "Reproduce 'Understanding deep learning requires rethinking generalization' "
           "(Zhang et al., 2017): one experiment per table and figure.", "", "experiments:"]
  lines += [f"  {name:<{width}}{describe(name)}" for name in NAMES]
  lines += ["", f"{prog} EXPERIMENT --help lists its presets and every config key with its default and meaning.",
            f"example: {prog} random_labels --config random_labels:paper --config.data.data_dir=~/data --dry_run"]
  return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "rethink-jax") -> None:
  """``rethink-jax EXPERIMENT [flags]``: runs the experiment with the remaining flags."""
  argv = list(sys.argv[1:] if argv is None else argv)
  if not argv or argv[0] in ("-h", "--help", "help"):
    print(_usage(prog))
    sys.exit(0)
  name = argv[0]
  if name not in NAMES:
    close = difflib.get_close_matches(name, NAMES, n=1)
    print(f"error: unknown experiment {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
          + f"; choose one of {', '.join(NAMES)}.", file=sys.stderr)
    sys.exit(2)
  importlib.import_module(f"rethink_jax.commands.{name}").main([f"{prog} {name}", *argv[1:]])
