"""Section 5 on MNIST: exact min-norm interpolation, raw pixels and Gabor features.

Prints test error, RKHS norm, relative residual, time and peak memory for each.

  python experiments/minnorm_mnist.py [--config rethink_jax/configs/minnorm_mnist.py:paper --config.data.data_dir=DIR]
"""

import time

import numpy as np

from rethink_jax import cli, data, minnorm, records
from rethink_jax import validation



SYSTEMS = ("raw", "gabor")


def check(c) -> None:
  """Every entry checked before any data is loaded or anything is computed."""
  validation.check_entries(c, non_negative_ints=("data.max_train",), positive_numbers=("raw_bandwidth", "gabor_bandwidth"),
                           non_negative_numbers=("ridge",),
                           choices={"data.name": ('mnist',), "data.source": data.SOURCES, "solver": ("auto", "cholesky", "cg"),
                                  "encoding": ("onehot", "centered")},
                         subsets={"features": SYSTEMS})


def run(c, workdir: str) -> None:
  check(c)
  ds = data.load(c.data.name, source=c.data.source, data_dir=c.data.data_dir or None)
  validation.check_data(c, len(ds.y_train), len(ds.y_test), ds.x_train.shape[1:])
  n = c.data.max_train or len(ds.y_train)
  workdir = records.check_writable(workdir)
  env = records.environment()  # the code that runs: the checkout may change before the run ends
  x, y, xt, yt = ds.x_train[:n], ds.y_train[:n], ds.x_test, ds.y_test
  print(f"data: {ds.provenance}; {n} train, {len(yt)} test")
  rows = []
  systems = {"raw": ("raw pixels", lambda a: a.reshape(len(a), -1) / 255.0, c.raw_bandwidth),
             "gabor": ("Gabor features", minnorm.gabor_features, c.gabor_bandwidth)}
  for name, feats, bw in (systems[f] for f in c.features):
    t0 = time.perf_counter()
    p = minnorm.fit(x, y, "gaussian", bandwidth=bw, features=feats, ridge=c.ridge, solver=c.solver,
                    encoding=c.encoding)
    err = float(np.mean(p.predict(xt).argmax(1) != yt))
    row = {"features": name, "bandwidth": bw, "test_error": err, "norm": p.norm(), "residual": p.residual,
           "solver": p.solver, "iterations": p.iterations, "seconds": time.perf_counter() - t0,
           "peak_rss_gb": records.peak_rss_gb(), "train_error": float(np.mean(p.predict(x[:2000]).argmax(1) != y[:2000]))}
    rows.append(row)
    print(f"{name:15s} test error {100 * err:5.2f}%  norm {row['norm']:8.1f}  residual {p.residual:.1e}  "
          f"{p.solver} ({p.iterations} steps)  {row['seconds']:.1f} s  peak RSS {row['peak_rss_gb']:.1f} GB")
  records.write_results(workdir, c, ds.provenance, script="minnorm_mnist", env=env, n_train=n, results=rows)


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_script("minnorm_mnist", run, check, ("runs/minnorm_mnist", "Where results.json goes."), argv)
