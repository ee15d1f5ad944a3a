"""Where the convolutional train step spends its time on CPU: one 3x3 convolution of the
small Inception (batch 128, 28x28), forward, input gradient and weight gradient, timed
separately in JAX (XLA's convolution and im2col) and in PyTorch when installed.

  python benchmarks/conv_profile.py [--cin 96 --cout 96 --size 28]
  RETHINK_JAX_CPU_FLAGS=0 python benchmarks/conv_profile.py   # XLA's default CPU flags
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.models.common import im2col_conv

DN = ("NHWC", "HWIO", "NHWC")


def _time(fn, *args, reps: int = 10) -> float:
  jax.block_until_ready(fn(*args))
  t0 = time.perf_counter()
  for _ in range(reps):
    out = fn(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - t0) / reps * 1e3


def jax_times(conv, x, w) -> tuple[float, float, float]:
  fwd = jax.jit(lambda x, w: conv(x, w, (1, 1), "SAME", dimension_numbers=jax.lax.conv_dimension_numbers(
      x.shape, w.shape, DN)))
  y = fwd(x, w)
  dgrad = jax.jit(lambda g: jax.vjp(lambda x: fwd(x, w), x)[1](g)[0])
  wgrad = jax.jit(lambda g: jax.vjp(lambda w: fwd(x, w), w)[1](g)[0])
  return _time(fwd, x, w), _time(dgrad, y), _time(wgrad, y)


def torch_times(x, w) -> tuple[float, float, float] | None:
  try:
    import torch
  except ImportError:
    return None
  xt = torch.tensor(np.asarray(x)).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
  wt = torch.tensor(np.asarray(w)).permute(3, 2, 0, 1).contiguous()
  conv = lambda x, w: torch.nn.functional.conv2d(x, w, padding=1)

  def timed(f, reps=10):
    f()
    t0 = time.perf_counter()
    for _ in range(reps):
      f()
    return (time.perf_counter() - t0) / reps * 1e3

  y = conv(xt, wt)
  g = torch.ones_like(y)
  dgrad = lambda: torch.nn.grad.conv2d_input(xt.shape, wt, g, padding=1)
  wgrad = lambda: torch.nn.grad.conv2d_weight(xt, wt.shape, g, padding=1)
  with torch.no_grad():
    return timed(lambda: conv(xt, wt)), timed(dgrad), timed(wgrad)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--size", type=int, default=28)
  parser.add_argument("--cin", type=int, default=96)
  parser.add_argument("--cout", type=int, default=96)
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(args.batch, args.size, args.size, args.cin)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(3, 3, args.cin, args.cout)) * 0.05, jnp.float32)
  gflop = 2 * args.batch * args.size ** 2 * 9 * args.cin * args.cout / 1e9
  print(f"3x3 conv, batch {args.batch}, {args.size}x{args.size}, {args.cin} -> {args.cout} channels: "
        f"{gflop:.2f} GFLOP per pass; jax {jax.__version__}, {jax.devices()[0].device_kind}")
  print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} (set by rethink_jax.cpu_flags; RETHINK_JAX_CPU_FLAGS=0 keeps XLA's defaults)")
  rows = {"jax xla conv": jax_times(jax.lax.conv_general_dilated, x, w),
          "jax im2col": jax_times(im2col_conv, x, w)}
  t = torch_times(x, w)
  if t:
    rows["torch (channels_last)"] = t
  print(f"{'':24s} {'forward ms':>11s} {'input grad ms':>14s} {'weight grad ms':>15s}   GFLOP/s (fwd, dgrad, wgrad)")
  for name, (f, d, g) in rows.items():
    print(f"{name:24s} {f:11.1f} {d:14.1f} {g:15.1f}   {gflop / f * 1e3:.0f}, {gflop / d * 1e3:.0f}, {gflop / g * 1e3:.0f}")


if __name__ == "__main__":
  main()
