"""Time and peak memory of min-norm kernel interpolation against n, for each solver.

Raw MNIST pixels (scaled to [0, 1]), Gaussian kernel, bandwidth 5, one-hot targets. Each
(n, solver) runs in a fresh process so peak RSS is its own.

  python benchmarks/minnorm_scaling.py --data-dir DIR [--sizes 5000,10000,20000] [--solvers cholesky,cg]
"""

import argparse
import json
import os
import platform
import subprocess
import sys


def one(n, solver, data_dir, dtype):
  import time

  import numpy as np

  from rethink_jax import data, minnorm, records
  ds = data.load("mnist", source="files" if data_dir else "sample", data_dir=data_dir or None)
  x = ds.x_train[:n].reshape(n, -1) / 255.0
  t0 = time.perf_counter()
  p = minnorm.fit(x, ds.y_train[:n], "gaussian", bandwidth=5.0, solver=solver, dtype=getattr(np, dtype),
                  max_iter=300, tol=1e-8)
  seconds = time.perf_counter() - t0
  err = float(np.mean(p.predict(ds.x_test.reshape(len(ds.x_test), -1) / 255.0).argmax(1) != ds.y_test))
  print(json.dumps({"n": n, "solver": solver, "dtype": dtype, "seconds": seconds, "residual": p.residual,
                    "iterations": p.iterations, "test_error": err,
                    "peak_rss_gb": records.peak_rss_gb()}))


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data-dir", default="")
  parser.add_argument("--sizes", default="2000,5000")
  parser.add_argument("--solvers", default="cholesky,cg")
  parser.add_argument("--dtype", default="float32")
  parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:
    return one(int(args.one[0]), args.one[1], args.data_dir, args.dtype)
  print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} threads; Gram matrix in {args.dtype}")
  print(f"{'n':>7s} {'solver':>9s} {'seconds':>8s} {'peak GB':>8s} {'residual':>9s} {'iters':>6s} {'test err':>8s}")
  for n in map(int, args.sizes.split(",")):
    for solver in args.solvers.split(","):
      out = subprocess.run([sys.executable, __file__, "--one", str(n), solver, "--data-dir", args.data_dir,
                            "--dtype", args.dtype], capture_output=True, text=True)
      if out.returncode:
        print(f"{n:>7d} {solver:>9s} failed: {out.stderr.strip().splitlines()[-1]}")
        continue
      r = json.loads(out.stdout.strip().splitlines()[-1])
      print(f"{n:>7d} {solver:>9s} {r['seconds']:>8.1f} {r['peak_rss_gb']:>8.1f} {r['residual']:>9.1e} "
            f"{r['iterations']:>6d} {100 * r['test_error']:>7.2f}%", flush=True)


if __name__ == "__main__":
  main()
