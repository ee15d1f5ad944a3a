"""Time the Cholesky factorisation of a Gram matrix on one device and sharded by rows over P.

  python benchmarks/minnorm_sharded.py --n 6000 --devices 2 [--tile 512] [--repeats 3]

On CPU, ``--devices P`` makes JAX expose P CPU devices (``jax_num_cpu_devices``), which
share the machine's cores: the figure to read there is the sharded algorithm's efficiency
(its flop rate against the single-device factorisation's), not a speedup. Each repetition
rebuilds K (not timed) and times the factorisation alone; prints min / median / max.
"""

import argparse
import statistics
import time

import jax


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--n", type=int, default=6000)
  parser.add_argument("--d", type=int, default=784)
  parser.add_argument("--devices", type=int, default=2)
  parser.add_argument("--tile", type=int, default=512)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  jax.config.update("jax_num_cpu_devices", args.devices)  # CPU devices only; a GPU or TPU backend keeps its own

  import functools

  import jax.numpy as jnp
  import numpy as np

  from rethink_jax.minnorm import device, kernels, sharded

  devices = jax.devices()[:args.devices]
  if len(devices) < args.devices:
    raise SystemExit(f"error: {args.devices} devices asked for, {len(devices)} present.")
  x = np.random.default_rng(0).random((args.n, args.d), dtype=np.float32)
  k_fn = functools.partial(kernels.gaussian, bandwidth=float(np.sqrt(args.d)))
  flops = args.n ** 3 / 3

  def time_it(build, factor):
    times = []
    for _ in range(args.repeats + 1):  # the first one compiles
      k_mat = build()
      jax.block_until_ready(k_mat)
      t0 = time.perf_counter()
      jax.block_until_ready(factor(k_mat))
      times.append(time.perf_counter() - t0)
      del k_mat
    return times[1:]

  single_factor = device.compiled_programs(k_fn, args.n, args.d, 10, tile=args.tile)["factor"][0]
  with jax.default_device(devices[0]):
    one = time_it(lambda: device.gram(k_fn, x, tile=args.tile), lambda k: single_factor(k, jnp.float32(1e-6)))
  prog = sharded.compiled_programs(k_fn, args.n, args.d, 10, devices, tile=args.tile)
  gram_fn, factor_fn = prog["gram"][0], prog["factor"][0]
  lay = sharded.layout(args.n, len(devices), args.tile)
  x_pad = jax.device_put(np.concatenate([x, np.zeros((lay.n_pad - args.n, args.d), np.float32)]),
                         jax.sharding.NamedSharding(jax.sharding.Mesh(np.asarray(devices), ("rows",)),
                                                    jax.sharding.PartitionSpec()))
  many = time_it(lambda: gram_fn(x_pad), lambda k: factor_fn(k, jnp.float32(1e-6)))
  print(f"jax {jax.__version__} on {jax.default_backend()} ({devices[0].device_kind}); n = {args.n}, {lay}")
  for name, times in (("one device (XLA cholesky)", one), (f"sharded over {len(devices)} ({lay.block}-row blocks)", many)):
    med = statistics.median(times)
    print(f"{name:40s} min {min(times):7.2f} s  median {med:7.2f} s  max {max(times):7.2f} s  "
          f"{flops / med / 1e9:7.1f} GFLOP/s (n^3/3 over the median)")


if __name__ == "__main__":
  main()
