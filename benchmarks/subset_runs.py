"""Subset-trained runs (the memorization-scores experiment) as one vmapped program, against the
same runs trained one after another: how the vmapped program scales with the number of runs K.

  python benchmarks/subset_runs.py [--model mlp_1x512] [--runs 1 2 4 8 16] [--sequential 4] [--ratio 0.7] \
      [--epochs 5] [--repeats 3] [--data-dir DIR] [--out DIR]

For each K of ``--runs`` it trains K runs, each on its own random ``--ratio`` subset of the
training set, as one vmapped program; for the K up to ``--sequential`` it also trains the
same K runs one after another. Wall time (setup, compilation, the end-of-training
predictions on both splits included) is the median over ``--repeats`` repetitions with its
spread (min-max), the two ways alternating; images/s counts every run's training images.
Peak memory is the process's resident set after each K (runs go in increasing K, so it is
the largest so far). Data: the embedded sample, or all of CIFAR-10 from ``--data-dir``.
``--out DIR`` writes ``DIR/results.json``, which ``python -m rethink_jax.report DIR``
renders as ``subset_runs.md``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import ml_collections

from rethink_jax import models, multirun, records, train
from rethink_jax.configs import common, memorization_scores


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="mlp_1x512")
  parser.add_argument("--runs", type=int, nargs="+", default=[1, 2, 4, 8, 16])
  parser.add_argument("--sequential", type=int, default=4, help="also train K runs one after another up to this K")
  parser.add_argument("--ratio", type=float, default=0.7)
  parser.add_argument("--epochs", type=float, default=5.0)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--data-dir", default="", help="all of CIFAR-10 from files here (default: the embedded sample)")
  parser.add_argument("--out", default="", help="write DIR/results.json")
  args = parser.parse_args()
  if args.model not in models.NAMES:
    parser.error(f"--model {args.model!r}: choose from {', '.join(models.NAMES)}")
  if min(args.runs) < 1 or args.repeats < 1 or not args.epochs > 0 or args.sequential < 0:
    parser.error("--runs, --repeats and --epochs must be positive, --sequential at least 0")
  if not 0.0 < args.ratio < 1.0:
    parser.error(f"--ratio {args.ratio}: must be in (0, 1)")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  if args.data_dir and not pathlib.Path(args.data_dir).expanduser().is_dir():
    parser.error(f"--data-dir {args.data_dir}: not a directory")

  m = measure(args.model, sorted(set(args.runs)), args.sequential, args.ratio, args.epochs, args.repeats,
              args.data_dir)
  print(f"{m['dataset']}; {args.model}, ratio {args.ratio}, {m['steps']} steps per run")
  print(f"{'K':>4s} {'vmapped s':>22s} {'img/s':>9s} {'sequential s':>22s} {'img/s':>9s} {'speedup':>8s} "
        f"{'peak RSS GB':>11s}")
  for row in m["rows"]:
    cells = [f"{row['runs']:4d}", f"{_spread(row['vmapped_seconds']):>22s}", f"{row['vmapped_images_per_second']:9.0f}"]
    if row["sequential_seconds"]:
      cells += [f"{_spread(row['sequential_seconds']):>22s}", f"{row['sequential_images_per_second']:9.0f}",
                f"{statistics.median(row['sequential_seconds']) / statistics.median(row['vmapped_seconds']):7.2f}x"]
    else:
      cells += [f"{'—':>22s}", f"{'—':>9s}", f"{'—':>8s}"]
    print(" ".join(cells + [f"{row['peak_rss_gb']:11.2f}"]))
  if args.out:
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    config = ml_collections.ConfigDict({"model": args.model, "runs": sorted(set(args.runs)),
                                        "sequential": args.sequential, "ratio": args.ratio, "epochs": args.epochs,
                                        "repeats": args.repeats})
    path = records.write_results(args.out, config, m.pop("dataset"), script="subset_runs",
                                 cpu_threads=os.cpu_count(), **m)
    print(f"wrote {path}")


def _spread(xs: list[float]) -> str:
  return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"


def _configs(model: str, k: int, ratio: float, epochs: float, data_dir: str) -> list:
  base = common.run_base(memorization_scores.get_config("paper" if data_dir else "cpu"))
  base = common.set_model(base, model)
  base = common.override(base, **{"num_epochs": epochs, "eval_every_steps": 1_000_000, "log_every_steps": 1_000_000,
                                  "checkpoint_every_steps": 1_000_000, "progress": False, "subset.ratio": ratio,
                                  "data.data_dir": data_dir})
  return [common.override(base, **{"subset.index": i}) for i in range(k)]


def measure(model: str, runs: list[int], sequential: int, ratio: float, epochs: float, repeats: int,
            data_dir: str = "") -> dict:
  """For each K of ``runs`` (increasing): wall times of K subset-trained runs as one vmapped
  program and, for K up to ``sequential``, one after another. Returns ``{dataset, steps,
  batch_size, rows: [{runs, vmapped_seconds, sequential_seconds, ..._images_per_second,
  peak_rss_gb}]}``."""
  ds = train.load_dataset(_configs(model, 1, ratio, epochs, data_dir)[0])  # loaded once, shared by every run
  rows, steps, batch = [], 0, 0
  for k in runs:
    configs = _configs(model, k, ratio, epochs, data_dir)
    walls = {"vmapped": [], "sequential": []}
    ways = [("vmapped", lambda tmp: multirun.train_many(configs, [f"{tmp}/v{i}" for i in range(k)],
                                                         group_dir=f"{tmp}/group", dataset=ds))]
    if k <= sequential:
      ways.append(("sequential", lambda tmp: [train.train_and_evaluate(c, f"{tmp}/s{i}", dataset=ds)
                                              for i, c in enumerate(configs)]))
    for rep in range(repeats):
      for name, fn in ways[::1 if rep % 2 == 0 else -1]:
        with tempfile.TemporaryDirectory() as tmp:
          t0 = time.perf_counter()
          summaries = fn(tmp)
          walls[name].append(time.perf_counter() - t0)
    steps, batch = summaries[0]["step"], configs[0].batch_size
    images = k * steps * batch
    rows.append({"runs": k, "vmapped_seconds": walls["vmapped"], "sequential_seconds": walls["sequential"],
                 "vmapped_images_per_second": images / statistics.median(walls["vmapped"]),
                 "sequential_images_per_second": (images / statistics.median(walls["sequential"])
                                                  if walls["sequential"] else None),
                 "peak_rss_gb": records.peak_rss_gb()})
  return {"dataset": ds.provenance, "steps": steps, "batch_size": batch, "rows": rows}


if __name__ == "__main__":
  main()
