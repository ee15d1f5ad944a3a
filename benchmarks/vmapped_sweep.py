"""The label-corruption sweep of Figures 1b/1c (11 levels) as one vmapped program against
11 sequential runs: same model, data, steps and evaluations, in one run of the benchmark.

  python benchmarks/vmapped_sweep.py [--model mlp_1x512] [--levels 11] [--epochs 20]

Prints wall time (setup, compilation and evaluations included) and the speedup, and checks
that both ways end with the same accuracies.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import jax
import numpy as np

from rethink_jax import multirun, train
from rethink_jax.configs import common, label_corruption


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="mlp_1x512")
  parser.add_argument("--levels", type=int, default=11)
  parser.add_argument("--epochs", type=float, default=20.0)
  args = parser.parse_args()

  base = common.set_model(common.run_base(label_corruption.get_config("cpu")), args.model)
  base = common.override(base, **{"stop_at_fit": False, "num_epochs": args.epochs, "eval_every_steps": 100_000,
                                  "log_every_steps": 100_000, "checkpoint_every_steps": 100_000})
  levels = np.linspace(0.0, 1.0, args.levels)
  configs = [common.override(base, **{"corruption.kind": "partial_labels", "corruption.p": float(p)}) for p in levels]
  print(f"device: {jax.devices()[0].device_kind} x {jax.device_count()} ({jax.default_backend()}), "
        f"{platform.processor() or platform.machine()}; jax {jax.__version__}")
  print(f"{args.model}, {args.levels} corruption levels, {args.epochs:g} epochs of the embedded sample "
        f"(batch {base.batch_size}), evaluated at the end")

  with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    seq = [train.train_and_evaluate(c, f"{tmp}/seq{i}") for i, c in enumerate(configs)]
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    vm = multirun.train_many(configs, [f"{tmp}/vm{i}" for i in range(len(configs))], group_dir=f"{tmp}/group")
    t_vm = time.perf_counter() - t0
  steps = seq[0]["step"]
  # float rounding differs between batched and single matmuls, and 300 steps amplify it:
  # report the largest accuracy difference rather than demand equality
  diff = max(max(abs(a["train_accuracy"] - b["train_accuracy"]), abs(a["test_accuracy"] - b["test_accuracy"]))
             for a, b in zip(seq, vm))
  print(f"{'':22s} {'wall s':>8s} {'run-steps/s':>12s}")
  print(f"{f'sequential ({len(configs)} runs)':22s} {t_seq:8.1f} {len(configs) * steps / t_seq:12.1f}")
  print(f"{'vmapped (1 program)':22s} {t_vm:8.1f} {len(configs) * steps / t_vm:12.1f}")
  print(f"speedup {t_seq / t_vm:.2f}x; {steps} steps per run; largest final accuracy difference {diff:.4f}")


if __name__ == "__main__":
  main()
