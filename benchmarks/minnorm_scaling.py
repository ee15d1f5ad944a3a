"""Time and peak memory of min-norm kernel interpolation against n, for each solver.

Raw MNIST pixels (scaled to [0, 1]), Gaussian kernel, bandwidth 5, one-hot targets. Each
(n, solver) runs in a fresh process so peak RSS is its own.

  python benchmarks/minnorm_scaling.py --data-dir DIR [--sizes 5000,10000,20000] [--solvers cholesky,cg]
      [--backend numpy|jax] [--out DIR]

For the Cholesky rows it also prints the floor: the Gram matrix's time (measured alone on
min(n, 10,000) images and scaled by n^2) plus n^3 / 3 at the machine's float32 GEMM rate
(measured on the factorisation's tile shape), and the run's time over that floor.
``--out DIR`` writes ``DIR/results.json``, which ``python -m rethink_jax.report DIR``
renders as ``minnorm_scaling.md``.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

SOLVERS = ("cholesky", "cg")
DTYPES = ("float32", "float64")
BACKENDS = ("numpy", "jax")


def gemm_rate(dtype, tile=2048, repeats=3) -> float:
  """float32 (or float64) GFLOP/s of a tile x tile by tile x 4 tile product (best of ``repeats``)."""
  import time

  import numpy as np

  rng = np.random.default_rng(0)
  a, b = rng.random((4 * tile, tile), dtype=np.float32).astype(dtype), rng.random((tile, 4 * tile), dtype=np.float32).astype(dtype)
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t0)
  return 2 * a.shape[0] * tile * b.shape[1] / best / 1e9


def gram_seconds(x, dtype) -> float:
  """Seconds for the Gaussian Gram matrix of ``x``, measured on at most 10,000 rows and scaled by n^2."""
  import functools
  import time

  from rethink_jax import minnorm

  m = min(len(x), 10_000)
  t0 = time.perf_counter()
  minnorm.gram(functools.partial(minnorm.gaussian, bandwidth=5.0), x[:m], dtype=dtype)
  return (time.perf_counter() - t0) * (len(x) / m) ** 2


def _load(data_dir):
  from rethink_jax import data
  return data.load("mnist", source="files" if data_dir else "sample", data_dir=data_dir or None)


def one(n, solver, data_dir, dtype, backend):
  import time

  import numpy as np

  from rethink_jax import minnorm, records
  ds = _load(data_dir)
  x = ds.x_train[:n].reshape(n, -1) / 255.0
  floor = gflops = None
  if solver == "cholesky" and backend == "numpy":
    from rethink_jax.minnorm import blocked
    gflops = gemm_rate(getattr(np, dtype), tile=min(blocked.DEFAULT_TILE, n))  # the factorisation's tile at this n
    floor = gram_seconds(x, getattr(np, dtype)) + n ** 3 / 3 / (gflops * 1e9)
  t0 = time.perf_counter()
  p = minnorm.fit(x, ds.y_train[:n], "gaussian", bandwidth=5.0, solver=solver, dtype=getattr(np, dtype),
                  max_iter=300, tol=1e-8, backend=backend)
  seconds = time.perf_counter() - t0
  err = float(np.mean(p.predict(ds.x_test.reshape(len(ds.x_test), -1) / 255.0).argmax(1) != ds.y_test))
  print(json.dumps({"n": n, "solver": solver, "backend": backend, "dtype": dtype, "seconds": seconds,
                    "residual": p.residual, "iterations": p.iterations, "test_error": err,
                    "floor_seconds": floor, "gemm_gflops": gflops, "peak_rss_gb": records.peak_rss_gb()}))


def _parse(parser, args):
  """Checks every argument (and that the data holds the sizes) before any work."""
  try:
    sizes = [int(s) for s in args.sizes.split(",")]
  except ValueError:
    parser.error(f"--sizes {args.sizes!r}: comma-separated integers, e.g. 5000,10000")
  if any(n < 2 for n in sizes):
    parser.error(f"--sizes {args.sizes!r}: each size must be at least 2")
  solvers = args.solvers.split(",")
  if any(s not in SOLVERS for s in solvers):
    parser.error(f"--solvers {args.solvers!r}: choose from {', '.join(SOLVERS)}")
  if args.backend == "jax" and solvers != ["cholesky"]:
    parser.error("--backend jax solves with the Cholesky only: pass --solvers cholesky")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  from rethink_jax import data
  try:
    ds = _load(args.data_dir)
  except data.DataError as e:
    parser.error(str(e))
  if max(sizes) > len(ds.x_train):
    parser.error(f"--sizes {args.sizes!r}: {ds.provenance} holds {len(ds.x_train):,} training images")
  return sizes, solvers, ds


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data-dir", default="", help="folder of mnist.npz (default: the embedded sample)")
  parser.add_argument("--sizes", default="2000,5000")
  parser.add_argument("--solvers", default="cholesky,cg")
  parser.add_argument("--dtype", default="float32", choices=DTYPES)
  parser.add_argument("--backend", default="numpy", choices=BACKENDS)
  parser.add_argument("--out", default="", help="write DIR/results.json")
  parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:
    return one(int(args.one[0]), args.one[1], args.data_dir, args.dtype, args.backend)
  sizes, solvers, ds = _parse(parser, args)
  from rethink_jax import records
  env = records.environment()  # the code that runs: the checkout may change before the run ends
  print(f"{records.cpu_name()}, {os.cpu_count()} threads; Gram matrix in {args.dtype}, {args.backend} backend")
  print(f"{'n':>7s} {'solver':>9s} {'seconds':>8s} {'floor':>8s} {'/ floor':>7s} {'peak GB':>8s} {'residual':>9s} "
        f"{'iters':>6s} {'test err':>8s}")
  rows = []
  for n in sizes:
    for solver in solvers:
      out = subprocess.run([sys.executable, __file__, "--one", str(n), solver, "--data-dir", args.data_dir,
                            "--dtype", args.dtype, "--backend", args.backend], capture_output=True, text=True)
      if out.returncode:
        print(f"{n:>7d} {solver:>9s} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
        continue
      r = json.loads(out.stdout.strip().splitlines()[-1])
      rows.append(r)
      floor = r["floor_seconds"]
      floor_cols = f"{floor:>8.1f} {r['seconds'] / floor:>6.2f}x" if floor else f"{'':>8s} {'':>7s}"
      print(f"{n:>7d} {solver:>9s} {r['seconds']:>8.1f} {floor_cols} {r['peak_rss_gb']:>8.1f} {r['residual']:>9.1e} "
            f"{r['iterations']:>6d} {100 * r['test_error']:>7.2f}%", flush=True)
  if args.out:
    import ml_collections
    config = ml_collections.ConfigDict({"sizes": sizes, "solvers": solvers, "dtype": args.dtype,
                                        "backend": args.backend, "bandwidth": 5.0})
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    path = records.write_results(args.out, config, ds.provenance, script="minnorm_scaling", env=env, rows=rows,
                                 n_test=len(ds.x_test), cpu_threads=os.cpu_count())
    print(f"\nwrote {path}")
  return 0 if len(rows) == len(sizes) * len(solvers) else 1


if __name__ == "__main__":
  sys.exit(main())
