"""What per-example records (``config.track_examples``) cost: whole runs with and without
them, evaluated on the whole training and test sets once per epoch, as the memorization
experiment runs.

  python benchmarks/track_examples.py --data-dir DIR [--model mlp_1x512] [--epochs 5] [--reps 3]
                                      [--max-train 0] [--vmapped 1] [--out DIR]

Each repetition trains the same run twice, with and without tracking, in alternating
order, in a fresh run directory (compilation, evaluations and writing included). Prints
wall time per arm (median, min-max), the median ratio and the bytes the records take per
evaluation. Without --data-dir it uses the embedded 2,000-image sample.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time


def _parse():
  """Every argument checked before jax is imported or any data is read."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", default="", help="folder of cifar10.npz (default: the embedded sample)")
  parser.add_argument("--model", default="mlp_1x512")
  parser.add_argument("--epochs", type=float, default=5.0)
  parser.add_argument("--reps", type=int, default=3)
  parser.add_argument("--max-train", type=int, default=0)
  parser.add_argument("--vmapped", type=int, default=1, help="runs trained as one vmapped program (1: a single run)")
  parser.add_argument("--out", default="", help="write DIR/results.json")
  args = parser.parse_args()
  if not args.epochs >= 1 or args.reps < 1 or args.vmapped < 1 or args.max_train < 0:
    parser.error("--epochs must be at least 1 (one evaluation), --reps and --vmapped positive, --max-train not negative")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  from rethink_jax import models
  if args.model not in models.NAMES:
    parser.error(f"--model {args.model!r}: choose from {', '.join(models.NAMES)}")
  return parser, args


def main():
  parser, args = _parse()
  import jax

  from rethink_jax import data, multirun, records, train
  from rethink_jax.configs import common, memorization

  base = common.set_model(common.run_base(memorization.get_config("paper" if args.data_dir else "cpu")), args.model)
  base = common.override(base, **{"num_epochs": args.epochs, "progress": False, "data.data_dir": args.data_dir,
                                  "data.max_train": args.max_train,
                                  "corruption.kind": "partial_labels", "corruption.p": 0.4})
  try:
    ds = train.load_dataset(base)
  except (data.DataError, ValueError) as e:
    parser.error(str(e))
  spe = len(ds.y_train) // base.batch_size
  base = common.override(base, **{"eval_every_steps": spe, "log_every_steps": spe, "checkpoint_every_steps": 5 * spe})
  print(f"device: {jax.devices()[0].device_kind} x {jax.device_count()} ({jax.default_backend()}), "
        f"{records.cpu_name()}; jax {jax.__version__}")
  print(f"{args.model}, {args.vmapped} run(s), {args.epochs:g} epochs of {ds.provenance} "
        f"({len(ds.y_train)} train, {len(ds.y_test)} test), evaluated every epoch; {args.reps} repetitions")

  def one(track: bool, tmp: str) -> float:
    configs = [common.override(base, track_examples=track, seed=s) for s in range(args.vmapped)]
    t0 = time.perf_counter()
    if args.vmapped == 1:
      train.train_and_evaluate(configs[0], f"{tmp}/run0", dataset=ds)
    else:
      multirun.train_many(configs, [f"{tmp}/run{i}" for i in range(args.vmapped)], group_dir=f"{tmp}/group",
                          dataset=ds)
    return time.perf_counter() - t0

  with tempfile.TemporaryDirectory() as tmp:  # untimed: the process's first run pays one-time set-up costs
    one(False, tmp)
  times = {False: [], True: []}
  size = evaluations = None
  for rep in range(args.reps):
    for track in ((False, True) if rep % 2 == 0 else (True, False)):
      with tempfile.TemporaryDirectory() as tmp:
        times[track].append(one(track, tmp))
        if track:
          path = pathlib.Path(tmp) / "run0" / records.EXAMPLES
          evaluations = len(records.read_examples(path)["eval_steps"])
          size = path.stat().st_size / evaluations
      print(f"rep {rep}: tracking {'on ' if track else 'off'} {times[track][-1]:7.1f} s", flush=True)
  ratios = [a / b for a, b in zip(times[True], times[False])]
  for track in (False, True):
    t = times[track]
    print(f"tracking {'on ' if track else 'off'}: median {statistics.median(t):.1f} s (min {min(t):.1f}, "
          f"max {max(t):.1f})")
  print(f"ratio on/off per repetition: {', '.join(f'{r:.3f}' for r in ratios)}; median "
        f"{statistics.median(ratios):.3f}")
  print(f"examples.npz: {size / 1e3:.0f} kB per evaluation per run ({len(ds.y_train)} training examples)")
  if args.out:
    import ml_collections
    config = ml_collections.ConfigDict({"model": args.model, "epochs": args.epochs, "reps": args.reps,
                                        "max_train": args.max_train, "vmapped": args.vmapped})
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    path = records.write_results(args.out, config, ds.provenance, script="track_examples",
                                 n_train=len(ds.y_train), n_test=len(ds.y_test),
                                 wall_seconds={"off": times[False], "on": times[True]}, ratios=ratios,
                                 bytes_per_evaluation=size, evaluations=evaluations, cpu_threads=os.cpu_count())
    print(f"\nwrote {path}")


if __name__ == "__main__":
  main()
