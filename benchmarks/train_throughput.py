"""Images/second of a full train step (forward, backward, SGD momentum update, BatchNorm)
at batch 128 for each of the paper's CIFAR-10 models, in JAX and, where installed, in
PyTorch (same architecture, same batch, same threads, same run); prints the ratio.

  python benchmarks/train_throughput.py [--models mlp_1x512,inception_small] [--repeats 3] [--out DIR]

Convolutional models are timed with both convolution formulations (``conv_impl``: XLA's
convolution and im2col as one matrix product) and PyTorch in NCHW and channels_last. "JAX in
a run" times the steps a training run executes (``train.DataStepper``: each batch gathered
from 50,000 stored uint8 images, cropped and standardized on the device, then the same
step), so a run's logged images/s can be set beside the step's own. Each
variant is compiled (or warmed up) once, then timed ``--repeats`` times, JAX and PyTorch
alternating (the order flips every repetition), so a noisy neighbour slows both sides
rather than make a ratio. Printed: mean and standard deviation over the repetitions; the
ratio is the best JAX variant's mean over the best PyTorch variant's (both timing the step
alone), with its range over the repetitions. ``--out DIR`` also writes ``DIR/results.json``
(every repetition), which ``python -m rethink_jax.report DIR`` renders as
``train_throughput.md``.

PyTorch is not a dependency: ``pip install -e '.[bench]'`` (on a CPU machine,
``pip install torch==2.13.0`` for the CPU build these figures were measured with).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rethink_jax import models, records, train
from rethink_jax.configs import common


def jax_timer(name: str, batch_size: int, warmup: int, conv_impl: str = "xla"):
  """A function ``steps -> images/s`` timing the jitted train step of ``name`` (compiled once)."""
  config, graphdef, state, keys = _jax_setup(name, batch_size, conv_impl)
  step = jax.jit(train.make_train_step(graphdef, config, keys["dropout"]), donate_argnums=0)
  rng = np.random.default_rng(0)
  batch = {"image": jnp.asarray(rng.normal(size=(batch_size, 28, 28, 3)), jnp.float32),
           "label": jnp.asarray(rng.integers(0, 10, batch_size), jnp.int32)}
  box = [state]

  def run(steps: int) -> float:
    state = box[0]
    t0 = time.perf_counter()
    for _ in range(steps):
      state, _ = step(state, batch)
    jax.block_until_ready(state)
    box[0] = state
    return steps * batch_size / (time.perf_counter() - t0)

  run(warmup)
  return run


def jax_run_timer(name: str, batch_size: int, warmup: int, num_stored: int = 50_000):
  """Like :func:`jax_timer`, but the steps a training run executes: ``train.DataStepper``
  over ``num_stored`` stored 32x32x3 uint8 images on the device (CIFAR-10's training set
  size), each step gathering its batch from the epoch's permutation, cropping and
  standardizing it before the train step."""
  config, graphdef, state, keys = _jax_setup(name, batch_size, "xla")
  mesh = train.make_mesh()
  stepper = train.DataStepper(train.make_train_step(graphdef, config, keys["dropout"]), config, mesh,
                              keys["shuffle"], num_stored)
  rng = np.random.default_rng(0)
  data = train.DeviceData(train.put_replicated(mesh, rng.integers(0, 256, (num_stored, 32, 32, 3), np.uint8)),
                          train.put_replicated(mesh, rng.integers(0, 10, num_stored).astype(np.int32)))
  box = {"state": train.replicate(mesh, state), "sums": None, "step": 0}

  def run(steps: int) -> float:
    t0 = time.perf_counter()
    box["state"], box["sums"] = stepper.run(box["state"], data, box["step"], steps, box["sums"])
    jax.block_until_ready(box["state"])
    box["step"] += steps
    return steps * batch_size / (time.perf_counter() - t0)

  run(warmup)
  return run


def _jax_setup(name: str, batch_size: int, conv_impl: str):
  config = common.set_model(common.base_config(), name)
  config.batch_size = batch_size
  config.conv_impl = conv_impl
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  return config, graphdef, state, keys


def torch_model(name: str):
  import torch
  from torch import nn

  class ConvModule(nn.Module):
    def __init__(self, cin, cout, k, s, bn):
      super().__init__()
      self.conv = nn.Conv2d(cin, cout, k, s, padding=k // 2, bias=not bn)
      self.bn = nn.BatchNorm2d(cout, affine=False) if bn else None
      self.beta = nn.Parameter(torch.zeros(cout)) if bn else None  # offset only, as in the paper

    def forward(self, x):
      x = self.conv(x)
      if self.bn is not None:
        x = self.bn(x) + self.beta[None, :, None, None]
      return torch.relu(x)

  class Inception(nn.Module):
    def __init__(self, cin, c1, c3, bn):
      super().__init__()
      self.b1, self.b3 = ConvModule(cin, c1, 1, 1, bn), ConvModule(cin, c3, 3, 1, bn)

    def forward(self, x):
      return torch.cat([self.b1(x), self.b3(x)], 1)

  class Down(nn.Module):
    def __init__(self, cin, c3, bn):
      super().__init__()
      self.conv = ConvModule(cin, c3, 3, 2, bn)
      self.pool = nn.MaxPool2d(3, 2, padding=1)

    def forward(self, x):
      return torch.cat([self.conv(x), self.pool(x)], 1)

  if name.startswith("mlp"):
    depth = 1 if name == "mlp_1x512" else 3
    dims = [2352] + [512] * depth
    layers = [nn.Flatten()]
    for a, b in zip(dims[:-1], dims[1:]):
      layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(512, 10))
  if name == "alexnet_small":
    block = lambda cin: [nn.Conv2d(cin, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
                         nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0)]
    return nn.Sequential(*block(3), *block(64), nn.Flatten(), nn.Linear(3136, 384), nn.ReLU(),
                         nn.Linear(384, 192), nn.ReLU(), nn.Linear(192, 10))
  bn = name == "inception_small"
  from rethink_jax.models.inception import STAGES
  layers, cin = [ConvModule(3, 96, 3, 1, bn)], 96
  for kind, widths in STAGES:
    if kind == "inc":
      layers.append(Inception(cin, *widths, bn))
      cin = sum(widths)
    else:
      layers.append(Down(cin, widths[0], bn))
      cin += widths[0]
  return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


def torch_timer(name: str, batch_size: int, warmup: int, channels_last: bool):
  """``(steps -> images/s, parameter count)`` for the same model's train step in PyTorch."""
  import torch

  model = torch_model(name)
  n_params = sum(p.numel() for p in model.parameters())
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  x = torch.randn(batch_size, 3, 28, 28)
  y = torch.randint(0, 10, (batch_size,))
  if channels_last and not name.startswith("mlp"):
    model = model.to(memory_format=torch.channels_last)
    x = x.to(memory_format=torch.channels_last)
  loss_fn = torch.nn.CrossEntropyLoss()

  def run(steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
      opt.zero_grad(set_to_none=True)
      loss_fn(model(x), y).backward()
      opt.step()
    return steps * batch_size / (time.perf_counter() - t0)

  run(warmup)
  return run, n_params


# The variants that time the train step alone, as PyTorch's side does (the ratio compares these);
# "jax_run" adds the run's batch gathering and preprocessing.
STEP_VARIANTS = frozenset({"jax", "jax_im2col"})


def _mean_sd(xs: list[float]) -> str:
  return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:.1f}"


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default=",".join(models.NAMES))
  parser.add_argument("--batch-size", type=int, default=128)
  parser.add_argument("--steps", type=int, default=0, help="timed steps per repetition (default: by model size)")
  parser.add_argument("--repeats", type=int, default=3, help="timed repetitions of every variant")
  parser.add_argument("--no-torch", action="store_true")
  parser.add_argument("--out", default="", help="write DIR/results.json (every repetition)")
  args = parser.parse_args()
  names = args.models.split(",")
  unknown = [n for n in names if n not in models.NAMES]
  if unknown or args.batch_size < 1 or args.repeats < 1 or args.steps < 0:
    parser.error(f"--models: unknown {unknown[0]!r} (choose from {', '.join(models.NAMES)})" if unknown else
                 "--batch-size and --repeats must be positive, --steps not negative")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")

  torch = None
  if not args.no_torch:
    try:
      import torch
    except ImportError:
      pass
  print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()} ({jax.default_backend()}), "
        f"{os.cpu_count()} CPU threads, {records.cpu_name()}")
  print(f"jax {jax.__version__}" + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
                                    if torch else ", torch not installed"))
  print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} (set by rethink_jax.cpu_flags; RETHINK_JAX_CPU_FLAGS=0 keeps XLA's defaults)")
  print(f"batch {args.batch_size}, full train step (forward, backward, SGD momentum, BN); "
        f"img/s as mean ± sd over {args.repeats} repetitions\n")
  header = f"{'model':22s} {'params':>10s} {'jax img/s':>14s} {'jax im2col':>14s} {'jax in a run':>14s}"
  if torch:
    header += f" {'torch img/s':>14s} {'torch CL':>14s} {'jax/torch':>18s}"
  print(header)
  rows = []
  for name in names:
    small = name.startswith("mlp")
    steps = args.steps or (100 if small else 5)
    warmup = 5 if small else 2
    n = models.PAPER_PARAM_COUNTS[name]
    jax_side = {"jax": jax_timer(name, args.batch_size, warmup)}
    if not small:
      jax_side["jax_im2col"] = jax_timer(name, args.batch_size, warmup, conv_impl="im2col")
    jax_side["jax_run"] = jax_run_timer(name, args.batch_size, warmup)
    torch_side = {}
    if torch:
      torch_side["torch"], tn = torch_timer(name, args.batch_size, warmup, channels_last=False)
      if tn != n:
        sys.exit(f"PyTorch {name} has {tn} parameters, expected {n}")
      if not small:
        torch_side["torch_channels_last"] = torch_timer(name, args.batch_size, warmup, channels_last=True)[0]
    timed = {k: [] for k in (*jax_side, *torch_side)}
    for rep in range(args.repeats):
      sides = [jax_side, torch_side] if rep % 2 == 0 else [torch_side, jax_side]
      for side in sides:
        for k, run in side.items():
          timed[k].append(run(steps))
    row = {"model": name, "params": n, "steps": steps, "images_per_s": timed}
    line = f"{name:22s} {n:>10,d} {_mean_sd(timed['jax']):>14s} " \
           f"{_mean_sd(timed['jax_im2col']) if 'jax_im2col' in timed else '—':>14s} {_mean_sd(timed['jax_run']):>14s}"
    if torch:
      best = lambda keys: max(keys, key=lambda k: statistics.mean(timed[k]))
      bj, bt = best(STEP_VARIANTS.intersection(jax_side)), best(torch_side)
      per_rep = [a / b for a, b in zip(timed[bj], timed[bt])]
      row["ratio"] = statistics.mean(timed[bj]) / statistics.mean(timed[bt])
      row["ratio_per_repeat"] = per_rep
      line += (f" {_mean_sd(timed['torch']):>14s} "
               f"{_mean_sd(timed['torch_channels_last']) if 'torch_channels_last' in timed else '—':>14s} "
               f"{row['ratio']:>6.2f} ({min(per_rep):.2f}-{max(per_rep):.2f})")
    rows.append(row)
    print(line, flush=True)

  if args.out:
    config = ml_collections.ConfigDict({"models": names, "batch_size": args.batch_size, "steps": args.steps,
                                        "repeats": args.repeats, "no_torch": args.no_torch})
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    path = records.write_results(args.out, config, "random inputs (28x28x3), random labels", script="train_throughput",
                                 rows=rows, cpu_threads=os.cpu_count(),
                                 torch=(torch.__version__ if torch else None),
                                 torch_threads=(torch.get_num_threads() if torch else None),
                                 xla_flags=os.environ.get("XLA_FLAGS", ""))
    print(f"\nwrote {path}")


if __name__ == "__main__":
  main()
