"""Where the convolutional train step spends its time on CPU: one convolution (by default a
3x3 one of the small Inception, batch 128, 28x28; ``--kernel 5 --size 14 --cin 64 --cout 64``
is AlexNet's second), forward, input gradient and weight gradient, timed separately in JAX
(XLA's convolution and im2col) and in PyTorch when installed.

  python benchmarks/conv_profile.py [--kernel 3 --cin 96 --cout 96 --size 28] [--repeats 3] [--out DIR]
  RETHINK_JAX_CPU_FLAGS=0 python benchmarks/conv_profile.py   # XLA's default CPU flags

Each pass is timed ``--repeats`` times (10 calls each, the implementations alternating, the
order flipping every repetition) and printed as mean ± sd in milliseconds. ``--out DIR``
writes ``DIR/results.json``, which ``python -m rethink_jax.report DIR`` renders as
``conv_profile.md``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax import records
from rethink_jax.models.common import im2col_conv

DN = ("NHWC", "HWIO", "NHWC")


def _time(fn, *args, reps: int = 10) -> float:
  jax.block_until_ready(fn(*args))
  t0 = time.perf_counter()
  for _ in range(reps):
    out = fn(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - t0) / reps * 1e3


PASSES = ("forward", "input_grad", "weight_grad")


def jax_timer(conv, x, w):
  """A function timing the three passes once (ms each), compiled and warmed up now."""
  fwd = jax.jit(lambda x, w: conv(x, w, (1, 1), "SAME", dimension_numbers=jax.lax.conv_dimension_numbers(
      x.shape, w.shape, DN)))
  y = fwd(x, w)
  dgrad = jax.jit(lambda g: jax.vjp(lambda x: fwd(x, w), x)[1](g)[0])
  wgrad = jax.jit(lambda g: jax.vjp(lambda w: fwd(x, w), w)[1](g)[0])
  return lambda: (_time(fwd, x, w), _time(dgrad, y), _time(wgrad, y))


def torch_timer(x, w):
  """Like :func:`jax_timer` for PyTorch's channels_last convolution; ``None`` without PyTorch."""
  try:
    import torch
  except ImportError:
    return None
  xt = torch.tensor(np.asarray(x)).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
  wt = torch.tensor(np.asarray(w)).permute(3, 2, 0, 1).contiguous()
  pad = w.shape[0] // 2  # SAME for an odd kernel
  conv = lambda x, w: torch.nn.functional.conv2d(x, w, padding=pad)

  def timed(f, reps=10):
    f()
    t0 = time.perf_counter()
    for _ in range(reps):
      f()
    return (time.perf_counter() - t0) / reps * 1e3

  y = conv(xt, wt)
  g = torch.ones_like(y)
  dgrad = lambda: torch.nn.grad.conv2d_input(xt.shape, wt, g, padding=pad)
  wgrad = lambda: torch.nn.grad.conv2d_weight(xt, wt.shape, g, padding=pad)
  def run():
    with torch.no_grad():
      return timed(lambda: conv(xt, wt)), timed(dgrad), timed(wgrad)
  run()
  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--size", type=int, default=28)
  parser.add_argument("--kernel", type=int, default=3, help="odd kernel size (SAME padding)")
  parser.add_argument("--cin", type=int, default=96)
  parser.add_argument("--cout", type=int, default=96)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", default="", help="write DIR/results.json")
  args = parser.parse_args()
  if min(args.batch, args.size, args.cin, args.cout, args.repeats) < 1:
    parser.error("--batch, --size, --cin, --cout and --repeats must be positive")
  if args.kernel < 1 or args.kernel % 2 == 0:
    parser.error(f"--kernel must be a positive odd size, got {args.kernel}")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(args.batch, args.size, args.size, args.cin)), jnp.float32)
  k = args.kernel
  w = jnp.asarray(rng.normal(size=(k, k, args.cin, args.cout)) * 0.05, jnp.float32)
  gflop = 2 * args.batch * args.size ** 2 * k * k * args.cin * args.cout / 1e9
  print(f"{k}x{k} conv, batch {args.batch}, {args.size}x{args.size}, {args.cin} -> {args.cout} channels: "
        f"{gflop:.2f} GFLOP per pass; jax {jax.__version__}, {jax.devices()[0].device_kind}, {records.cpu_name()}")
  xla_flags = os.environ.get("XLA_FLAGS", "")
  print(f"XLA_FLAGS={xla_flags!r} (set by rethink_jax.cpu_flags; RETHINK_JAX_CPU_FLAGS=0 keeps XLA's defaults)")
  timers = {"jax": jax_timer(jax.lax.conv_general_dilated, x, w), "jax_im2col": jax_timer(im2col_conv, x, w)}
  torch = torch_timer(x, w)
  if torch:
    timers["torch_channels_last"] = torch
  ms = {name: {p: [] for p in PASSES} for name in timers}
  for rep in range(args.repeats):
    for name in (list(timers) if rep % 2 == 0 else list(reversed(timers))):
      for p, t in zip(PASSES, timers[name]()):
        ms[name][p].append(t)
  sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
  print(f"{'':22s} {'forward ms':>14s} {'input grad ms':>14s} {'weight grad ms':>14s}   GFLOP/s (fwd, dgrad, wgrad)")
  for name, passes in ms.items():
    cells = " ".join(f"{statistics.mean(passes[p]):8.1f} ± {sd(passes[p]):4.1f}" for p in PASSES)
    rates = ", ".join(f"{gflop / statistics.mean(passes[p]) * 1e3:.0f}" for p in PASSES)
    print(f"{name:22s} {cells}   {rates}")
  if args.out:
    import ml_collections
    config = ml_collections.ConfigDict({"batch": args.batch, "size": args.size, "cin": args.cin, "cout": args.cout,
                                        "kernel": k, "repeats": args.repeats})
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    path = records.write_results(args.out, config, "random inputs and kernel", script="conv_profile", gflop=gflop,
                                 ms=ms, xla_flags=xla_flags, cpu_threads=os.cpu_count(),
                                 torch=(__import__("torch").__version__ if torch else None))
    print(f"\nwrote {path}")


if __name__ == "__main__":
  main()
