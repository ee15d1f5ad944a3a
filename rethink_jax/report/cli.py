"""``python -m rethink_jax.report PATH [PATH ...] [--partial]``: every report below each
``PATH`` rebuilt (:func:`build_all`), one line per file written; exit status 0, 1 for an
incomplete sweep (without ``--partial``), 2 for a missing path, a path that holds no record,
or a corrupt record."""

from __future__ import annotations

import pathlib
import sys

from rethink_jax import records
from rethink_jax.report.artifacts import IncompleteSweepError, build
from rethink_jax.report.results import script_results
from rethink_jax.report.runs import is_run_dir, single_run


def build_all(root, *, partial: bool = False) -> list[pathlib.Path]:
  """Rebuilds the reports of every sweep directory below ``root`` (``root`` included), the
  curves and summary of every run directory that is not part of a sweep, and the tables of
  every min-norm, Theorem 1 or benchmark ``results.json``. ``partial``: see :func:`build`. A
  ``root`` that does not exist or is not a directory raises :class:`~rethink_jax.records.RecordError`."""
  root = pathlib.Path(root)
  if not root.is_dir():  # rglob would find nothing, and a mistyped path read as "nothing to report"
    raise records.RecordError(f"build_all: {root} " + ("is not a directory." if root.exists() else
                                                        "does not exist."))
  sweeps = sorted({p.parent for p in root.rglob(records.SWEEP)})
  out = []
  for sweep_dir in sweeps:
    out += build(sweep_dir, partial=partial)
  for cfg in sorted(root.rglob(records.CONFIG)):
    run_dir = cfg.parent
    if is_run_dir(run_dir) and not (run_dir.parent / records.SWEEP).exists():
      out += single_run(run_dir)
  for results in sorted(root.rglob(records.RESULTS)):
    out.append(script_results(results.parent))
  return out


def _parser():
  import argparse

  parser = argparse.ArgumentParser(
      prog="python -m rethink_jax.report",
      description="Rebuild tables and figures from run records: every sweep directory (sweep.json) below each\n"
                  "PATH gets its paper artifact (tables as .md, figures as .png); every run directory outside a\n"
                  "sweep gets curves.png and summary.md; every min-norm, Theorem 1 or benchmark results.json its tables.",
      epilog="examples: python -m rethink_jax.report runs/    (your runs)\n"
             "          python -m rethink_jax.report results/ (the records behind docs/results.md)",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("paths", nargs="+", metavar="PATH", help="a run directory, a sweep directory or a folder of them")
  parser.add_argument("--partial", action="store_true",
                      help="report sweeps with missing or unfinished runs (each table names them) instead of failing")
  return parser


def main(argv=None) -> int:
  """``python -m rethink_jax.report PATH [PATH ...]``; returns the exit status."""
  args = _parser().parse_args(argv)
  written = []
  try:
    for path in map(pathlib.Path, args.paths):
      if not path.exists():
        print(f"error: {path} does not exist.", file=sys.stderr)
        return 2
      found = build_all(path, partial=args.partial) if path.is_dir() else []
      if not found:
        print(f"error: {path} holds no run record (a sweep's {records.SWEEP}, a run's {records.CONFIG} with "
              f"{records.METRICS}, or a script's {records.RESULTS}).", file=sys.stderr)
        return 2
      written += found
  except IncompleteSweepError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  except records.RecordError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for path in written:
    print(f"wrote {path}")
  return 0
