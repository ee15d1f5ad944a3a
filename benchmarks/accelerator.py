"""One command for a GPU or TPU: what the library does with one chip, measured in one run
of at most ``--budget-seconds`` (default 8 minutes).

  python benchmarks/accelerator.py --data-dir DIR --out DIR [--budget-seconds 480] [--peak-tflops X]
  python benchmarks/accelerator.py --smoke --out DIR      # CPU, embedded sample, under a minute

In order, each section recorded as soon as it ends (``DIR/results.json``, rendered by
``python -m rethink_jax.report DIR`` as ``accelerator.md``):

1. **train step** of every CIFAR-10 model at batch 128 and at the largest batch that fits
   (predicted from XLA's memory analysis at batch 128, halved until it compiles and runs):
   images/s, and model FLOP utilisation: FLOPs per step from XLA's cost analysis over the
   chip's peak (:data:`PEAK_TFLOPS`, or ``--peak-tflops``);
2. **the vmapped sweep**: 11 label-corruption levels as one program against 11 sequential
   runs (``benchmarks/vmapped_sweep.py``), on CIFAR-10 from ``--data-dir``;
3. **full-MNIST min-norm** with ``backend="jax"`` (Section 5, raw pixels): time, peak
   device memory, residual and test error;
4. **the headline run**: ``inception_small`` fitting random labels on all of CIFAR-10 with
   the paper's settings in the time that is left; the record says whether it fitted, or
   how far it got (its run directory is kept under ``DIR/inception_small-random_labels``).

``--data-dir`` holds ``cifar10.npz`` and ``mnist.npz`` (or the official files); without
network access, bring them in parts (``docs/accelerators.md``).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rethink_jax import data, minnorm, monitoring, records, train
from rethink_jax.configs import common

# Dense peak TFLOP/s per chip, vendors' data sheets (no sparsity). "float32" is what XLA uses for
# float32 matmuls and convolutions at its default precision: TF32 tensor cores on NVIDIA
# Ampere and later, bfloat16 passes on TPUs. Matched in order against jax's device_kind.
PEAK_TFLOPS = (
    ("H100 PCIe", {"float32": 378.0, "bfloat16": 756.0}),
    ("H100", {"float32": 494.7, "bfloat16": 989.4}),        # SXM / HBM3
    ("H200", {"float32": 494.7, "bfloat16": 989.4}),
    ("A100", {"float32": 156.0, "bfloat16": 312.0}),
    ("TPU v4", {"float32": 275.0, "bfloat16": 275.0}),
    ("TPU v5 lite", {"float32": 197.0, "bfloat16": 197.0}),  # v5e
    ("TPU v5", {"float32": 459.0, "bfloat16": 459.0}),       # v5p
    ("TPU v6 lite", {"float32": 918.0, "bfloat16": 918.0}),  # v6e
)

CIFAR_MODELS = ("mlp_1x512", "mlp_3x512", "alexnet_small", "inception_small", "inception_small_nobn")


def peak_tflops(device_kind: str, dtype: str) -> float | None:
  for name, peaks in PEAK_TFLOPS:
    if name.lower() in device_kind.lower():
      return peaks[dtype]
  return None


class Budget:
  """Seconds left of the whole run."""

  def __init__(self, seconds: float):
    self.end = time.monotonic() + seconds

  def left(self) -> float:
    return self.end - time.monotonic()


# ----------------------------------------------------------------------------- 1. train step

def _compiled_step(model: str, batch: int, dtype: str):
  config = common.override(common.set_model(common.base_config(), model), batch_size=batch, compute_dtype=dtype)
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.normal(size=(batch, 28, 28, 3)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, 10, batch), jnp.int32)
  step = jax.jit(train.make_train_step(graphdef, config, keys["dropout"]), donate_argnums=0)
  compiled = step.lower(state, {"image": images, "label": labels}).compile()
  return compiled, state, {"image": images, "label": labels}


def _cost(compiled) -> tuple[float | None, int | None]:
  """FLOPs of one step (XLA's cost analysis) and the bytes it needs on the device."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost["flops"]) if cost and cost.get("flops", 0) > 0 else None
  try:
    mem = compiled.memory_analysis()
    need = int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)
  except Exception:  # not every backend reports it
    need = None
  return flops, need


def _time_steps(compiled, state, batch, seconds: float) -> tuple[float, int]:
  """Images/s over at least 3 steps and about ``seconds`` of stepping, after 2 warm-up steps."""
  for _ in range(2):
    state, _ = compiled(state, batch)
  jax.block_until_ready(state)
  n, t0 = 0, time.perf_counter()
  while n < 3 or time.perf_counter() - t0 < seconds:
    state, _ = compiled(state, batch)
    n += 1
    if n % 10 == 0 or n < 10:
      jax.block_until_ready(state)
  jax.block_until_ready(state)
  size = batch["label"].shape[0]
  return n * size / (time.perf_counter() - t0), n


def _device_bytes() -> int | None:
  stats = jax.local_devices()[0].memory_stats() or {}
  return stats.get("bytes_limit")


def train_step_rows(model_names, dtype: str, peak: float | None, seconds: float, max_batch: int) -> list[dict]:
  rows = []
  limit = _device_bytes()
  for model in model_names:
    compiled, state, batch = _compiled_step(model, 128, dtype)
    flops, need = _cost(compiled)
    candidates = [128]
    if limit and need:  # memory grows about linearly with the batch: start from the prediction
      guess = 2 ** int(math.log2(max(128, 0.8 * limit / need * 128)))
      candidates.append(min(guess, max_batch))
    else:
      candidates.append(min(2 * 128, max_batch))
    for size in dict.fromkeys(candidates):
      while size >= 128:
        try:
          if size != 128:
            compiled, state, batch = _compiled_step(model, size, dtype)
            flops, need = _cost(compiled)
          ips, steps = _time_steps(compiled, state, batch, seconds)
          break
        except Exception as e:  # XlaRuntimeError RESOURCE_EXHAUSTED: halve and try again
          if "RESOURCE_EXHAUSTED" not in str(e) and "out of memory" not in str(e).lower():
            raise
          size //= 2
      else:
        continue
      mfu = flops * ips / size / (peak * 1e12) if flops and peak else None
      rows.append({"model": model, "batch": size, "images_per_s": ips, "steps_timed": steps,
                   "flops_per_step": flops, "device_bytes": need, "mfu": mfu})
      print(f"  {model:22s} batch {size:6d}: {ips:10,.0f} img/s" + (f", MFU {100 * mfu:.1f}%" if mfu else ""),
            flush=True)
  return rows


# ----------------------------------------------------------------------------- 3. min-norm

def minnorm_row(data_dir: str, source: str, max_train: int) -> dict:
  ds = data.load("mnist", source=source, data_dir=data_dir or None)
  n = max_train or len(ds.y_train)
  x = ds.x_train[:n].reshape(n, -1) / 255.0
  xt = ds.x_test.reshape(len(ds.x_test), -1) / 255.0
  t0 = time.perf_counter()
  p = minnorm.fit(x, ds.y_train[:n], "gaussian", bandwidth=5.0, backend="jax")
  err = float(np.mean(p.predict(xt).argmax(1) != ds.y_test))
  seconds = time.perf_counter() - t0
  stats = jax.local_devices()[0].memory_stats() or {}
  return {"n_train": n, "seconds": seconds, "test_error": err, "residual": float(p.residual), "norm": float(p.norm()),
          "peak_device_gb": stats["peak_bytes_in_use"] / 1e9 if "peak_bytes_in_use" in stats else None,
          "dataset": ds.provenance}


# ----------------------------------------------------------------------------- 4. the headline run

def headline_run(workdir: pathlib.Path, data_dir: str, source: str, model: str, seconds: float,
                 images_per_s: float) -> dict:
  """``model`` on random labels with the paper's settings for about ``seconds`` of training
  (the epoch budget set from the measured throughput, evaluation every 2 epochs)."""
  config = common.set_model(common.randomization_config("random_labels", "paper"), model)
  config = common.override(config, **{"data.source": source, "data.data_dir": data_dir, "progress": False})
  n = 50_000 if source != "sample" else 2_000
  spe = n // config.batch_size
  epochs = max(1.0, math.floor(0.75 * seconds * images_per_s / n))  # evaluations take about a quarter
  config = common.override(config, num_epochs=float(epochs), eval_every_steps=2 * spe, log_every_steps=spe,
                           checkpoint_every_steps=2 * spe)
  t0 = time.perf_counter()
  summary = train.train_and_evaluate(config, workdir)
  return {"model": model, "epoch_budget": epochs, "epochs": summary["epoch"], "step": summary["step"],
          "train_accuracy": summary["train_accuracy"], "test_accuracy": summary["test_accuracy"],
          "time_to_fit": summary["time_to_fit"], "train_seconds": summary["train_seconds"],
          "wall_seconds": time.perf_counter() - t0, "dataset": summary["dataset"]}


# ----------------------------------------------------------------------------- the run

def _save(out: pathlib.Path, args, env: dict, sections: dict) -> None:
  config = ml_collections.ConfigDict({"smoke": args.smoke, "budget_seconds": args.budget_seconds,
                                      "compute_dtype": args.dtype, "peak_tflops": args.peak_tflops or 0.0,
                                      "data_dir": "" if args.smoke else "given"})
  dataset = ("the embedded CIFAR-10 and MNIST samples" if args.smoke else
             "CIFAR-10 and MNIST from --data-dir")
  records.write_results(out, config, dataset, script="accelerator", env=env, **sections)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", default="", help="folder with cifar10.npz and mnist.npz (or the official files)")
  parser.add_argument("--out", required=True, help="write DIR/results.json (and the headline run's directory)")
  parser.add_argument("--budget-seconds", type=float, default=480.0)
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="compute_dtype")
  parser.add_argument("--peak-tflops", type=float, default=None, help="the chip's peak, if not in PEAK_TFLOPS")
  parser.add_argument("--smoke", action="store_true", help="CPU, embedded samples, tiny sizes: checks the script")
  args = parser.parse_args(argv)
  if not args.smoke and not args.data_dir:
    parser.error("--data-dir is needed (or --smoke for the embedded samples)")
  if args.data_dir and not pathlib.Path(args.data_dir).expanduser().is_dir():
    parser.error(f"--data-dir {args.data_dir}: not a directory")
  if not args.budget_seconds > 0 or (args.peak_tflops is not None and not args.peak_tflops > 0):
    parser.error("--budget-seconds and --peak-tflops must be positive")
  out = pathlib.Path(args.out).expanduser()
  if out.exists() and not out.is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  out.mkdir(parents=True, exist_ok=True)

  budget = Budget(args.budget_seconds)
  env = records.environment()
  device = jax.devices()[0]
  peak = args.peak_tflops or peak_tflops(device.device_kind, args.dtype)
  source = "sample" if args.smoke else "files"
  data_dir = "" if args.smoke else str(pathlib.Path(args.data_dir).expanduser())
  print(f"device: {device.device_kind} x {jax.device_count()} ({jax.default_backend()}); peak "
        f"{f'{peak:g} TFLOP/s ({args.dtype})' if peak else 'not known (pass --peak-tflops)'}; jax {jax.__version__}",
        flush=True)
  sections = {"device_kind": device.device_kind, "peak_tflops": peak}

  print("1. train step", flush=True)
  names = ("mlp_1x512",) if args.smoke else CIFAR_MODELS
  sections["train_step"] = train_step_rows(names, args.dtype, peak, 0.2 if args.smoke else 3.0,
                                           256 if args.smoke else 16_384)
  _save(out, args, env, sections)

  print("2. vmapped sweep", flush=True)
  sys.path.insert(0, str(pathlib.Path(__file__).parent))
  import vmapped_sweep

  levels, epochs = (2, 0.1) if args.smoke else (11, 2.0)
  sweep = vmapped_sweep.measure("mlp_1x512", levels, epochs, 1, source=source, data_dir=data_dir)
  sections["vmapped_sweep"] = {"model": "mlp_1x512", "epochs": epochs, **sweep}
  print(f"  {levels} runs: sequential {sweep['wall_seconds']['sequential'][0]:.1f} s, vmapped "
        f"{sweep['wall_seconds']['vmapped'][0]:.1f} s", flush=True)
  _save(out, args, env, sections)

  print("3. min-norm on MNIST", flush=True)
  sections["minnorm_mnist"] = minnorm_row(data_dir, source, 500 if args.smoke else 0)
  m = sections["minnorm_mnist"]
  print(f"  n = {m['n_train']}: {m['seconds']:.1f} s, test error {100 * m['test_error']:.2f}%, residual "
        f"{m['residual']:.1e}", flush=True)
  _save(out, args, env, sections)

  model = "mlp_1x512" if args.smoke else "inception_small"
  seconds = 5.0 if args.smoke else max(30.0, budget.left() - 30.0)
  print(f"4. {model} on random labels, about {seconds:.0f} s", flush=True)
  ips = next(r["images_per_s"] for r in sections["train_step"] if r["model"] == model and r["batch"] == 128)
  sections["headline"] = headline_run(out / f"{model}-random_labels", data_dir, source, model, seconds, ips)
  h = sections["headline"]
  print(f"  {h['epochs']:.1f} epochs: train accuracy {monitoring.fraction(h['train_accuracy'])}, "
        + (f"fitted at epoch {h['time_to_fit']['epoch']:.1f}" if h["time_to_fit"] else "not fitted"), flush=True)
  sections["total_seconds"] = args.budget_seconds - budget.left()
  _save(out, args, env, sections)
  print(f"wrote {out / records.RESULTS} ({sections['total_seconds']:.0f} s)")


if __name__ == "__main__":
  main()
