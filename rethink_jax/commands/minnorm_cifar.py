"""Section 5 on CIFAR-10: min-norm Gaussian kernel on pixels, and random conv features
(``config.features.kind``: Gaussian filters, or whitened random training patches).

  python experiments/minnorm_cifar.py [--config rethink_jax/configs/minnorm_cifar.py:subset --config.data.data_dir=DIR]
"""

import itertools
import pathlib
import time

import jax
import numpy as np

from rethink_jax import cli, data, minnorm, preprocess, records
from rethink_jax import validation
from rethink_jax.configs import common



CIFAR_SIZE = 32  # data.name allows cifar10 only: 32x32 images, checked again once they are loaded


def check(c) -> None:
  """Every entry checked before any data is loaded or anything is computed."""
  validation.check_entries(c, positive_ints=("num_filters", "filter_block", "features.patch_size",
                                             "features.regions", "features.whiten_patches",
                                             "gram_checkpoint_every"),
                           non_negative_ints=("data.max_train", "data.heldout", "ridge_heldout"),
                           positive_numbers=("bandwidth", "features.zca_eps", "features.patch_norm_eps"),
                           non_negative_numbers=("features.threshold",), non_negative_number_lists=("ridges",),
                           choices={"data.name": ('cifar10',), "data.source": data.SOURCES,
                                    "gram_dtype": ("float32", "float64"),
                                    "features.kind": ("gaussian_filters", "random_patches")},
                           subsets={"methods": ("gaussian", "random_conv")})
  validation.check_value("features.standardize", c.features.standardize, "bool")
  validation.check_value("gram_checkpoint", c.gram_checkpoint, "str")
  check_patch_geometry(c, CIFAR_SIZE)
  if c.gram_checkpoint and c.features.kind != "random_patches":
    raise validation.ConfigError(f"config.gram_checkpoint = {c.gram_checkpoint!r}: must be '' unless "
                                 "config.features.kind = 'random_patches' (the resumable accumulation is theirs).")
  check_grid(c)
  check_ridge_heldout(c)


def check_ridge_heldout(c) -> None:
  """``ridge_heldout``: the ridge chosen on held-out training images, for a test-set run of the
  random features (a run with ``data.heldout`` is choosing parameters already; a grid is too)."""
  if not c.ridge_heldout:
    return
  if "random_conv" not in c.methods:
    raise validation.ConfigError(f"config.ridge_heldout = {c.ridge_heldout}: chooses the ridge of the random_conv "
                                 "rows; add 'random_conv' to config.methods, or set it to 0.")
  if c.data.heldout or grid_settings(c) != [{}]:
    raise validation.ConfigError(f"config.ridge_heldout = {c.ridge_heldout}: chooses the ridge for a test-set run; "
                                 "this run is choosing parameters on held-out images already (config.data.heldout "
                                 "or config.grid): set it to 0.")


GRID_RULES = {"threshold": "tuple of [0,inf)", "zca_eps": "tuple of >0", "regions": "tuple of int>0"}


def check_grid(c) -> None:
  """``grid.*``: tuples of values its ``features.*`` entry allows, for random patches only, each
  combination's pooling regions fitting the feature map, and no single Gram checkpoint for several."""
  for key, rule in GRID_RULES.items():
    validation.check_value(f"grid.{key}", c.grid[key], rule)
  settings = grid_settings(c)
  if settings == [{}]:
    return
  if c.features.kind != "random_patches" or "random_conv" not in c.methods:
    raise validation.ConfigError(f"config.grid = {_grid_text(c)}: varies the random patches' parameters; it needs "
                                 "config.features.kind = 'random_patches' and 'random_conv' in config.methods.")
  if c.gram_checkpoint and len(settings) > 1:
    raise validation.ConfigError(f"config.gram_checkpoint = {c.gram_checkpoint!r}: one partial Gram file cannot "
                                 f"serve the {len(settings)} featurizations of config.grid; use '' (or one setting).")
  for setting in settings:
    check_patch_geometry(with_setting(c, setting), CIFAR_SIZE)


def _grid_text(c) -> str:
  return ", ".join(f"{k}={tuple(v)}" for k, v in c.grid.items() if len(v))


def grid_settings(c) -> list[dict]:
  """The featurizations a run computes: every combination of the non-empty ``grid.*`` tuples,
  in order (``[{}]``, ``features.*`` as they are, when all are empty)."""
  axes = [(key, tuple(c.grid[key])) for key in GRID_RULES if len(c.grid[key])]
  return [dict(zip([k for k, _ in axes], values)) for values in itertools.product(*(v for _, v in axes))]


def with_setting(c, setting: dict):
  """``c`` with one grid combination's values in its ``features.*`` entries."""
  return common.override(c, **{f"features.{k}": v for k, v in setting.items()})


def check_patch_geometry(c, image_size: int) -> None:
  """``features.patch_size`` and ``features.regions`` against ``image_size x image_size`` images."""
  if c.features.patch_size > image_size:
    raise validation.ConfigError(f"config.features.patch_size = {c.features.patch_size!r}: must be at most the "
                                 f"images' size, {image_size}.")
  map_size = image_size - c.features.patch_size + 1
  if c.features.regions > map_size:
    raise validation.ConfigError(f"config.features.regions = {c.features.regions!r}: must be at most {map_size}, "
                                 f"the side of the {map_size}x{map_size} feature map of "
                                 f"{c.features.patch_size}x{c.features.patch_size} patches.")


def random_features_gram(c, x, xt) -> tuple[np.ndarray, np.ndarray, str]:
  """``(K_train, K_test_train, name)`` of the random features ``config.features.kind`` names."""
  key, dtype, f = jax.random.key(0), np.dtype(c.gram_dtype), c.features
  if f.kind == "gaussian_filters":
    return (*minnorm.random_conv_gram(key, x, xt, c.num_filters, filter_block=c.filter_block, dtype=dtype),
            f"{c.num_filters} random conv filters")
  try:
    k_train, k_test = minnorm.random_patch_gram(
        key, x, xt, c.num_filters, filter_block=c.filter_block, size=f.patch_size, threshold=f.threshold,
        zca_eps=f.zca_eps, norm_eps=f.patch_norm_eps, regions=f.regions, standardize=f.standardize,
        whiten_patches=f.whiten_patches, dtype=dtype, checkpoint=c.gram_checkpoint or None,
        checkpoint_every=c.gram_checkpoint_every)
  except minnorm.GramCheckpointError as e:
    raise records.RecordError(str(e)) from None
  return k_train, k_test, f"{c.num_filters} random patch filters"


def run(c, workdir: str) -> None:
  check(c)
  ds = data.load(c.data.name, source=c.data.source, data_dir=c.data.data_dir or None)
  validation.check_data(c, len(ds.y_train), len(ds.y_test), ds.x_train.shape[1:])
  check_patch_geometry(c, min(ds.x_train.shape[1:3]))
  n, held = c.data.max_train or len(ds.y_train), c.data.heldout
  for key, value in (("data.heldout", held), ("ridge_heldout", c.ridge_heldout)):
    if value >= n:
      raise validation.ConfigError(f"config.{key} = {value}: must be less than the {n} training images it is "
                                   "taken from (the last ones), leaving some to train on.")
  workdir = records.check_writable(workdir)  # before hours of work, after every check
  earlier = earlier_rows(c, workdir)
  env = records.environment()  # the code that runs: the checkout may change before the run ends
  if held:  # the test set stays unseen while parameters are chosen
    n -= held
    x, y, xt, yt = ds.x_train[:n], ds.y_train[:n], ds.x_train[n:n + held], ds.y_train[n:n + held]
  else:
    x, y, xt, yt = ds.x_train[:n], ds.y_train[:n], ds.x_test, ds.y_test
  evaluation = f"held-out training images {n}-{n + held - 1}" if held else "test set"
  print(f"data: {ds.provenance}; {n} train, {len(yt)} evaluated ({evaluation})")
  flat = lambda a: np.asarray(preprocess.cifar10_paper(a)).reshape(len(a), -1).astype(np.float64)
  rows = []
  t0 = time.perf_counter()
  if "gaussian" in c.methods:
    p = minnorm.fit(flat(x), y, "gaussian", bandwidth=c.bandwidth)
    err = float(np.mean(p.predict(flat(xt)).argmax(1) != yt))
    rows.append({"method": "Gaussian kernel on pixels", "test_error": err, "norm": p.norm(), "residual": p.residual,
                 "seconds": time.perf_counter() - t0, "backend": p.backend})

  def write(rows):
    rss = records.peak_rss_gb()
    records.write_results(workdir, c, ds.provenance, script="minnorm_cifar", env=env, n_train=n,
                          evaluation="heldout" if held else "test", n_evaluated=len(yt),
                          results=[{**r, "peak_rss_gb": r.get("peak_rss_gb", rss)} for r in rows])

  def show(new_rows):
    for r in new_rows:
      where = "held-out" if held or r.get("evaluation") == "heldout" else "test"
      print(f"{r['method']:55s} {where} error {100 * r['test_error']:5.2f}%  "
            f"norm {r['norm']:10.1f}  residual {r['residual']:.1e}  {r['seconds']:.1f} s", flush=True)

  show(rows)
  if "random_conv" in c.methods:
    settings = grid_settings(c)
    kept = [r for r in earlier if r["method"] != "Gaussian kernel on pixels"]
    # a grid's rows name their featurization; without a grid every kept row is of the one there is
    done = [r.get("setting") for r in kept] if len(settings) > 1 else (settings if kept else [])
    if kept:
      print(f"{workdir / records.RESULTS}: {len({str(s) for s in done})} of {len(settings)} featurizations done "
            "earlier, kept", flush=True)
      rows += kept
    for setting in settings:
      if setting in done:
        continue
      new_rows = random_features_rows(with_setting(c, setting), x, y, xt, yt, n)
      for r in new_rows:
        if len(settings) > 1:
          r["setting"] = setting
      rows += new_rows
      show(new_rows)
      write(rows)  # each featurization's rows kept as soon as they exist: a killed grid resumes after them
  if rows != earlier:  # a finished run given its command again leaves its record as it was
    write(rows)


def random_features_rows(c, x, y, xt, yt, n: int) -> list[dict]:
  """The ``random_conv`` rows: one Gram matrix of ``config.features``, solved at every ridge;
  with ``ridge_heldout``, first each ridge on held-out training images (rows with
  ``evaluation: "heldout"``), then the test error at the ridge with the lowest held-out error only."""
  t0 = time.perf_counter()
  k_train, k_test, name = random_features_gram(c, x, xt)
  gram_seconds = time.perf_counter() - t0
  rows = []

  def solve(k_fit, y_fit, k_eval, y_eval, ridge, method, **extra):
    t1 = time.perf_counter()
    scale = np.trace(k_fit) / len(k_fit)  # ridge is relative to the mean diagonal of the system solved
    p = minnorm.fit(k_fit, y_fit, "precomputed", ridge=ridge * scale, copy_k=False)  # in place, K restored
    err = float(np.mean(minnorm.predict_precomputed(p, k_eval).argmax(1) != y_eval))
    rows.append({"method": method, "ridge": float(ridge), "test_error": err, "norm": p.norm(),
                 "residual": p.residual, "gram_seconds": gram_seconds, "solve_seconds": time.perf_counter() - t1,
                 "seconds": gram_seconds + time.perf_counter() - t1, **extra, **features_record(c)})
    return err

  ridges = c.ridges
  if c.ridge_heldout:
    # the first m training images fitted in place in K's leading block, scored on the last ones: no copy of K
    m, held = n - c.ridge_heldout, c.ridge_heldout
    errors = [solve(k_train[:m, :m], y[:m], k_train[m:, :m], y[m:], ridge, f"{name}, ridge {ridge:g} x mean diag",
                    evaluation="heldout", n_fit=m, n_evaluated=held) for ridge in ridges]
    ridges = (ridges[int(np.argmin(errors))],)  # the first of equal errors: the order of config.ridges
  for ridge in ridges:
    chosen = {"chosen_on_heldout": c.ridge_heldout} if c.ridge_heldout else {}
    solve(k_train, y, k_test, yt, ridge, f"{name}, ridge {ridge:g} x mean diag", **chosen)
  rss = records.peak_rss_gb()
  return [{**r, "peak_rss_gb": rss} for r in rows]


def earlier_rows(c, workdir: pathlib.Path) -> list[dict]:
  """The rows a run of this very config already wrote to ``workdir`` (a re-run computes only
  the featurizations not there: a grid resumes after the last one kept, a finished run is not
  computed again); refuses a ``results.json`` of another config there, before anything is computed."""
  path = workdir / records.RESULTS
  if not path.exists():
    return []
  saved = records.read_json(path)
  if not isinstance(saved, dict) or saved.get("script") != "minnorm_cifar" or not isinstance(saved.get("config"), dict):
    raise records.RecordError(f"{path} is not a results.json of minnorm_cifar; use another --workdir.")
  diff = records.identity_diff(records.identity(saved["config"]), records.identity(c))
  if diff:
    raise records.RecordError(f"{path} holds the results of another config (" + "; ".join(diff[:3])
                              + "); use another --workdir, or remove it to compute this one there.")
  return saved["results"]


def features_record(c) -> dict:
  """What a random-features row records of its featurization (the whole config is saved beside it)."""
  if c.features.kind == "gaussian_filters":
    return {}  # the rows as they were before features.kind existed
  params = {k: v for k, v in c.features.to_dict().items() if k != "kind"}
  return {"features": "random_patches", "feature_count": c.num_filters * 2 * c.features.regions ** 2,
          "feature_params": params}


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  cli.run_script("minnorm_cifar", run, check, ("runs/minnorm_cifar", "Where results.json goes."), argv)
