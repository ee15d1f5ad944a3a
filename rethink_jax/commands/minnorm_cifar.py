"""Section 5 on CIFAR-10: min-norm Gaussian kernel on pixels, and random conv features.

  python experiments/minnorm_cifar.py [--config rethink_jax/configs/minnorm_cifar.py:subset --config.data.data_dir=DIR]
"""

import time

import jax
import numpy as np

from rethink_jax import cli, data, minnorm, preprocess, records
from rethink_jax import validation



def check(c) -> None:
  """Every entry checked before any data is loaded or anything is computed."""
  validation.check_entries(c, positive_ints=("num_filters", "filter_block"), non_negative_ints=("data.max_train",),
                           positive_numbers=("bandwidth",), non_negative_number_lists=("ridges",),
                           choices={"data.name": ('cifar10',), "data.source": data.SOURCES, "gram_dtype": ("float32", "float64")},
                           subsets={"methods": ("gaussian", "random_conv")})


def run(c, workdir: str) -> None:
  check(c)
  ds = data.load(c.data.name, source=c.data.source, data_dir=c.data.data_dir or None)
  validation.check_data(c, len(ds.y_train), len(ds.y_test), ds.x_train.shape[1:])
  n = c.data.max_train or len(ds.y_train)
  workdir = records.check_writable(workdir)  # before hours of work, after every check
  env = records.environment()  # the code that runs: the checkout may change before the run ends
  x, y, xt, yt = ds.x_train[:n], ds.y_train[:n], ds.x_test, ds.y_test
  print(f"data: {ds.provenance}; {n} train, {len(yt)} test")
  flat = lambda a: np.asarray(preprocess.cifar10_paper(a)).reshape(len(a), -1).astype(np.float64)
  rows = []
  t0 = time.perf_counter()
  if "gaussian" in c.methods:
    p = minnorm.fit(flat(x), y, "gaussian", bandwidth=c.bandwidth)
    err = float(np.mean(p.predict(flat(xt)).argmax(1) != yt))
    rows.append({"method": "Gaussian kernel on pixels", "test_error": err, "norm": p.norm(), "residual": p.residual,
                 "seconds": time.perf_counter() - t0, "backend": p.backend})
  if "random_conv" in c.methods:
    t0 = time.perf_counter()
    k_train, k_test = minnorm.random_conv_gram(jax.random.key(0), x, xt, c.num_filters, filter_block=c.filter_block,
                                               dtype=np.dtype(c.gram_dtype))
    gram_seconds = time.perf_counter() - t0
    scale = np.trace(k_train) / n  # ridge is relative to the mean diagonal
    for ridge in c.ridges:
      t1 = time.perf_counter()
      p = minnorm.fit(k_train, y, "precomputed", ridge=ridge * scale, copy_k=False)  # solved in place, K restored
      err = float(np.mean(minnorm.predict_precomputed(p, k_test).argmax(1) != yt))
      rows.append({"method": f"{c.num_filters} random conv filters, ridge {ridge:g} x mean diag", "test_error": err,
                   "norm": p.norm(), "residual": p.residual, "gram_seconds": gram_seconds,
                   "solve_seconds": time.perf_counter() - t1, "seconds": gram_seconds + time.perf_counter() - t1})
  rss = records.peak_rss_gb()
  for r in rows:
    r["peak_rss_gb"] = rss
    print(f"{r['method']:55s} test error {100 * r['test_error']:5.2f}%  norm {r['norm']:10.1f}  "
          f"residual {r['residual']:.1e}  {r['seconds']:.1f} s")
  records.write_results(workdir, c, ds.provenance, script="minnorm_cifar", env=env, n_train=n, results=rows)


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_script("minnorm_cifar", run, check, ("runs/minnorm_cifar", "Where results.json goes."), argv)
