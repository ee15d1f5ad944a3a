"""The label-corruption sweep of Figures 1b/1c (11 levels) as one vmapped program against
11 sequential runs: same model, data, steps and evaluations, in one run of the benchmark.

  python benchmarks/vmapped_sweep.py [--model mlp_1x512] [--levels 11] [--epochs 20] [--repeats 3] [--out DIR]

Prints wall time (setup, compilation and evaluations included) as mean and standard
deviation over ``--repeats`` repetitions (the two ways alternate, the order flipping every
repetition), the speedup, and the largest difference of the two ways' final accuracies.
``--out DIR`` writes ``DIR/results.json``, which ``python -m rethink_jax.report DIR``
renders as ``vmapped_sweep.md``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import jax
import ml_collections
import numpy as np

from rethink_jax import models, multirun, records, train
from rethink_jax.configs import common, label_corruption


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="mlp_1x512")
  parser.add_argument("--levels", type=int, default=11)
  parser.add_argument("--epochs", type=float, default=20.0)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", default="", help="write DIR/results.json")
  args = parser.parse_args()
  if args.model not in models.NAMES:
    parser.error(f"--model {args.model!r}: choose from {', '.join(models.NAMES)}")
  if args.levels < 2 or args.repeats < 1 or not args.epochs > 0:
    parser.error("--levels must be at least 2, --repeats and --epochs positive")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")

  m = measure(args.model, args.levels, args.epochs, args.repeats)
  walls, steps, n = m["wall_seconds"], m["steps"], m["runs"]
  sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
  print(f"{'':22s} {'wall s':>14s} {'run-steps/s':>12s}")
  for name, label in (("sequential", f"sequential ({n} runs)"), ("vmapped", "vmapped (1 program)")):
    w = walls[name]
    cell = f"{statistics.mean(w):.1f} ± {sd(w):.1f}"
    print(f"{label:22s} {cell:>14s} {n * steps / statistics.mean(w):12.1f}")
  speedups = [a / b for a, b in zip(walls["sequential"], walls["vmapped"])]
  print(f"speedup {statistics.mean(walls['sequential']) / statistics.mean(walls['vmapped']):.2f}x "
        f"({min(speedups):.2f}-{max(speedups):.2f} over {args.repeats} repetitions); {steps} steps per run; "
        f"largest final accuracy difference {m['max_accuracy_difference']:.4f}")
  if args.out:
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    config = ml_collections.ConfigDict({"model": args.model, "levels": args.levels, "epochs": args.epochs,
                                        "repeats": args.repeats})
    path = records.write_results(args.out, config, "the embedded CIFAR-10 sample (2,000 lossless training images)",
                                 script="vmapped_sweep", cpu_threads=os.cpu_count(), **m)
    print(f"wrote {path}")


def measure(model: str, levels: int, epochs: float, repeats: int, **data) -> dict:
  """Wall times of ``levels`` label-corruption runs of ``model`` trained one after another and
  as one vmapped program (alternating, the order flipping every repetition); ``data``:
  ``data.*`` entries (default: the embedded sample). Returns ``{runs, steps,
  wall_seconds: {sequential, vmapped}, max_accuracy_difference}``."""
  base = common.set_model(common.run_base(label_corruption.get_config("cpu")), model)
  base = common.override(base, **{"stop_at_fit": False, "num_epochs": epochs, "eval_every_steps": 100_000,
                                  "log_every_steps": 100_000, "checkpoint_every_steps": 100_000, "progress": False,
                                  **{f"data.{k}": v for k, v in data.items()}})
  configs = [common.override(base, **{"corruption.kind": "partial_labels", "corruption.p": float(p)})
             for p in np.linspace(0.0, 1.0, levels)]

  def sequential(tmp):
    return [train.train_and_evaluate(c, f"{tmp}/seq{i}") for i, c in enumerate(configs)]

  def vmapped(tmp):
    return multirun.train_many(configs, [f"{tmp}/vm{i}" for i in range(len(configs))], group_dir=f"{tmp}/group")

  walls, finals = {"sequential": [], "vmapped": []}, {}
  for rep in range(repeats):
    for name, fn in ((("sequential", sequential), ("vmapped", vmapped))[::1 if rep % 2 == 0 else -1]):
      with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        finals[name] = fn(tmp)
        walls[name].append(time.perf_counter() - t0)
  # float rounding differs between batched and single matmuls, and many steps amplify it:
  # report the largest accuracy difference rather than demand equality
  diff = max(max(abs(a["train_accuracy"] - b["train_accuracy"]), abs(a["test_accuracy"] - b["test_accuracy"]))
             for a, b in zip(finals["sequential"], finals["vmapped"]))
  return {"runs": levels, "steps": finals["sequential"][0]["step"], "wall_seconds": walls,
          "max_accuracy_difference": diff}


if __name__ == "__main__":
  main()
