"""Keeps the records of a run, sweep or results folder in the tracked results/ tree, and
rebuilds its tables and figures there.

  python scripts/keep_results.py runs/table1 results/table1_mlp

Copies config.json, metrics.jsonl, summary.json, segments.json, sweep.json and results.json
(records.RECORD_FILES; never checkpoints, TensorBoard events or per-example arrays) below SRC
to the same places below DEST, then runs the report on DEST. With --partial it keeps a sweep
whose runs are not all finished (a long run's progress so far): its tables mark those rows
unfinished. docs/results.md includes the tables and figures from there;
tests/test_results_page.py checks that they are what the report makes of the records.
"""

import argparse
import sys

from rethink_jax import records, report


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("src", help="a run, sweep or results directory (or a folder of them)")
  parser.add_argument("dest", help="where below results/ its records go")
  parser.add_argument("--partial", action="store_true",
                      help="keep a sweep whose runs are not all finished (a long run's progress so far); its "
                           "tables say which runs are unfinished")
  args = parser.parse_args(argv)
  try:
    copied = records.copy_records(args.src, args.dest)
    built = report.build_all(args.dest, partial=args.partial)
  except records.RecordError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"kept {len(copied)} record files in {args.dest}; wrote {len(built)} tables and figures")
  return 0


if __name__ == "__main__":
  sys.exit(main())
