"""Theorem 1 and the Rademacher complexity argument on real CIFAR-10 images.

Fits random labels on n real images with the depth-two construction (2n + d weights),
prints parameters, max residual, time, conditioning and test accuracy; then estimates
empirical Rademacher complexities. Writes results.json to --workdir.

  python experiments/theorem1.py [--config rethink_jax/configs/theorem1.py:paper]
"""

import time

import jax
import numpy as np

from rethink_jax import cli, data, records, theory, train
from rethink_jax import validation



def fit_sizes(config, ds):
  flat = lambda x: x.reshape(len(x), -1).astype(np.float64)
  z_test = flat(ds.x_test)
  rows = []
  print(f"{'n':>7s} {'params':>10s} {'2n+d':>9s} {'max resid':>10s} {'train acc':>9s} {'test acc':>8s} "
        f"{'min gap/range':>13s} {'seconds':>8s}")
  for n in config.sizes:
    if n > len(ds.x_train):
      print(f"{n:>7d}  skipped: only {len(ds.x_train)} training images in {ds.provenance}")
      continue
    z = flat(ds.x_train[:n])
    labels = np.asarray(jax.random.randint(jax.random.fold_in(jax.random.key(config.seed), n), (n,), 0, 10))
    y = np.eye(10)[labels] if config.one_hot else labels.astype(np.float64)
    t0 = time.perf_counter()
    params = theory.depth2_interpolant(z, y, theta=config.theta)
    out = np.asarray(theory.depth2_apply(params, z))
    seconds = time.perf_counter() - t0
    pred = out.argmax(1) if config.one_hot else np.rint(out)
    test_out = np.asarray(theory.depth2_apply(params, z_test))
    test_pred = test_out.argmax(1) if config.one_hot else np.rint(test_out)
    cond = theory.conditioning(params, z)
    scalar_count = 2 * n + z.shape[1]
    row = {"n": n, "params": theory.num_params(params), "params_scalar_2n_plus_d": scalar_count,
           "max_residual": float(np.max(np.abs(out - y))), "train_accuracy": float(np.mean(pred == labels)),
           "test_accuracy": float(np.mean(test_pred == ds.y_test)), "seconds": seconds, **cond}
    rows.append(row)
    print(f"{n:>7d} {row['params']:>10,d} {scalar_count:>9,d} {row['max_residual']:>10.2e} "
          f"{row['train_accuracy']:>9.4f} {row['test_accuracy']:>8.4f} {cond['min_gap'] / cond['range']:>13.2e} "
          f"{seconds:>8.2f}")
  return rows


def rademacher(config, ds, workdir):
  n = config.rademacher.n
  x = ds.x_train[:n]
  key = jax.random.key(config.seed)
  out = {}
  lin = theory.empirical_rademacher(lambda z, s: theory.linear_fit_predict(z[:, :config.rademacher.linear_dims], s),
                                    x.reshape(n, -1).astype(np.float64), num_draws=config.rademacher.num_draws, key=key)
  out[f"linear (first {config.rademacher.linear_dims} pixels + bias)"] = lin
  out["Theorem 1 depth-2 network"] = theory.empirical_rademacher(
      theory.depth2_fit_predict, x.reshape(n, -1), num_draws=config.rademacher.num_draws, key=key)
  if config.rademacher.mlp:
    values = []
    for i in range(config.rademacher.num_draws):
      sigma = theory.rademacher_signs(key, i, n)
      binary = data.Dataset(name=ds.name, x_train=x, y_train=((sigma + 1) // 2).astype(np.int32),
                            x_test=ds.x_test[:100], y_test=(ds.y_test[:100] % 2).astype(np.int32), num_classes=2,
                            provenance=f"{ds.provenance} | first {n} train | Rademacher signs draw {i}")
      summary = train.train_and_evaluate(config.rademacher.train, workdir / f"mlp_rademacher_{i}", dataset=binary)
      values.append(2 * summary["train_accuracy"] - 1)
    out[f"{config.rademacher.train.model} (training engine, to 100% train accuracy)"] = theory.summarize_rademacher(values)
  print(f"\nEmpirical Rademacher complexity on {n} CIFAR-10 images, {config.rademacher.num_draws} sign draws:")
  for name, est in out.items():
    print(f"  {name:55s} {est.estimate:.4f} +- {est.stderr:.4f}")
  return {name: {"estimate": e.estimate, "stderr": e.stderr, "values": e.values.tolist()} for name, e in out.items()}


def check(config) -> None:
  """Every entry checked before any data is loaded or anything is computed."""
  validation.check_entries(config, non_negative_ints=("seed",), positive_int_lists=("sizes",),
                           positive_ints=("rademacher.n", "rademacher.linear_dims"),
                           choices={"data.name": data.NAMES, "data.source": data.SOURCES})
  if not (isinstance(config.theta, float) and 0.0 < config.theta < 1.0):
    raise validation.ConfigError(f"config.theta = {config.theta!r}: must be a number in (0, 1).")
  draws = config.rademacher.num_draws
  if not (isinstance(draws, int) and draws >= 2):
    raise validation.ConfigError(f"config.rademacher.num_draws = {draws!r}: must be an integer >= 2 (for a standard "
                                 "error).")
  if config.rademacher.mlp:
    try:
      validation.check(config.rademacher.train)
    except validation.ConfigError as e:  # name the key from the top of this config
      raise validation.ConfigError(str(e).replace("config.", "config.rademacher.train.", 1)) from None


def check_sizes(config, ds) -> None:
  largest = max(max(config.sizes), config.rademacher.n)
  if largest > len(ds.y_train):
    key = "sizes" if max(config.sizes) == largest else "rademacher.n"
    raise validation.ConfigError(f"config.{key} asks for {largest} images: must be at most the {len(ds.y_train)} "
                                 "training images.")


def run(config, workdir: str) -> None:
  check(config)
  ds = data.load(config.data.name, source=config.data.source, data_dir=config.data.data_dir or None)
  check_sizes(config, ds)
  workdir = records.check_writable(workdir)
  env = records.environment()  # the code that runs: the checkout may change before the run ends
  print(f"data: {ds.provenance}; d = {int(np.prod(ds.image_shape))}\n")
  rows = fit_sizes(config, ds)
  rad = rademacher(config, ds, workdir)
  path = records.write_results(workdir, config, ds.provenance, script="theorem1", env=env, theorem1=rows,
                               rademacher=rad)
  print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_script("theorem1", run, check, ("runs/theorem1", "Where results.json and MLP runs go."), argv)
