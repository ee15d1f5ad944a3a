"""What the random-patch Gram matrix (Section 5, ``features.kind = random_patches``) costs per
filter: its featurization, stage by stage and by images per call, and its products.

  python benchmarks/patch_features.py [--data-dir DIR] [--images 500] [--filters 500] [--chunk 0] [--reps 5]
                                      [--out DIR]

On ``--images`` CIFAR-10 training images (without --data-dir: the embedded sample) and one
block of ``--filters`` filters (the settings ``minnorm_cifar.py`` runs with: 6x6 patches, 2x2 regions), it times
``--reps`` times, after one untimed pass that compiles, featurizing the images ``--chunk``
per call (0: ``patches.default_chunk``, cache-sized):
  convolution     the convolution alone (``patch_responses``' ``conv_general_dilated``);
  features        ``patch_features``: responses, symmetric rectifier, pooling;
  features_100    the same, 100 images per call;
  joined_100      the same numbers with the rectifier's two halves joined before pooling
                  (``pool_regions(symmetric_rectify(...))``, the stages composed), 100 per call;
  products        one row tile of the Gram update, ``F[:1000] @ F[:n].T`` on random float32
                  features at n = 50,000 (the rate the full-size Gram runs at).
Prints each as median and min-max, then the forecast for all of CIFAR-10 (50,000 + 10,000
images, lower triangle of K_train plus K_test) per 1,000 filters: featurization plus products.
``--out DIR`` writes ``DIR/results.json``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

N_TRAIN, N_TEST = 50_000, 10_000


def _parse(argv):
  """Every argument checked before jax is imported or any data is read."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", default="", help="folder of cifar10.npz (default: the embedded sample)")
  parser.add_argument("--images", type=int, default=500, help="images featurized per timed call")
  parser.add_argument("--filters", type=int, default=500, help="filters in the block")
  parser.add_argument("--chunk", type=int, default=0, help="images per call (0: patches.default_chunk)")
  parser.add_argument("--reps", type=int, default=5)
  parser.add_argument("--out", default="", help="write DIR/results.json")
  args = parser.parse_args(argv)
  for name in ("images", "filters", "reps"):
    if getattr(args, name) < 1:
      parser.error(f"--{name} must be positive, got {getattr(args, name)}")
  if args.chunk < 0:
    parser.error(f"--chunk must be positive (or 0: the default), got {args.chunk}")
  if args.data_dir and not os.path.isdir(args.data_dir):
    parser.error(f"--data-dir {args.data_dir}: not a directory")
  if args.out and pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
    parser.error(f"--out {args.out}: exists and is not a directory")
  return parser, args


def _times(fn, reps: int) -> list[float]:
  fn()  # compiles
  out = []
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    out.append(time.perf_counter() - t0)
  return out


def main(argv=None) -> int:
  parser, args = _parse(argv)
  import jax
  import numpy as np

  from rethink_jax import data, records
  from rethink_jax.configs import minnorm_cifar
  from rethink_jax.minnorm import patches

  feat = minnorm_cifar.get_config().features  # the settings the experiment runs with
  size, eps, threshold, regions = feat.patch_size, feat.patch_norm_eps, feat.threshold, feat.regions

  try:
    ds = data.load("cifar10", source="files" if args.data_dir else "sample", data_dir=args.data_dir or None)
  except data.DataError as e:
    parser.error(str(e))
  if args.images > len(ds.x_train):
    parser.error(f"--images {args.images}: the data holds {len(ds.x_train):,} training images")
  key = jax.random.key(0)
  x_train = ds.x_train
  whitener = patches.random_patch_whitener(key, x_train, size=size, zca_eps=feat.zca_eps, norm_eps=eps,
                                           whiten_patches=min(feat.whiten_patches, 20 * len(x_train)))
  filters, bias = patches.random_patch_filters(key, x_train, args.filters, whitener, size=size, norm_eps=eps)
  x = jax.numpy.asarray(patches.prepare_images(x_train[:args.images]))
  inv_std = patches.local_inv_std(x, size, eps)

  chunk = args.chunk or patches.default_chunk(args.filters, *inv_std.shape[1:3])
  conv = jax.jit(lambda x: jax.lax.conv_general_dilated(
      x, filters, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=jax.lax.Precision.HIGHEST))
  joined = jax.jit(lambda x, s: patches.pool_regions(
      patches.symmetric_rectify(patches.patch_responses(x, s, filters, bias), threshold), regions))
  features = lambda x, s: patches.patch_features(x, s, filters, bias, threshold, regions)

  def per_call(fn, c):  # every image, c per call (a shorter last call compiles in the untimed pass)
    return lambda: [jax.block_until_ready(fn(x[i:i + c], inv_std[i:i + c])) for i in range(0, len(x), c)]

  stages = {"convolution": per_call(lambda x, s: conv(x), chunk), "features": per_call(features, chunk),
            "features_100": per_call(features, 100), "joined_100": per_call(joined, 100)}
  width = 2 * regions * regions * args.filters
  rng = np.random.default_rng(0)
  f = rng.standard_normal((N_TRAIN, width), dtype=np.float32)
  k = np.zeros((1000, N_TRAIN), np.float32)

  def products():
    k[:] += f[:1000] @ f.T

  seconds = {name: _times(fn, args.reps) for name, fn in stages.items()}
  seconds["products"] = _times(products, args.reps)
  med = {name: statistics.median(v) for name, v in seconds.items()}
  rate = 2 * 1000 * width * N_TRAIN / med["products"]  # FLOP/s of the Gram's row tile
  products_s = 2 * (N_TRAIN * N_TRAIN / 2 + N_TEST * N_TRAIN) * width * 1000 / args.filters / rate
  featurize_s = {name: med[name] / args.images * 1000 / args.filters * (N_TRAIN + N_TEST) for name in stages}

  print(f"{args.images} images, {args.filters} filters, {regions}x{regions} regions, {chunk} images per call, "
        f"{args.reps} timed runs each "
        f"({jax.devices()[0].platform}, jax {jax.__version__})")
  for name, v in seconds.items():
    print(f"  {name:12s} {med[name] * 1e3:9.1f} ms  (min {min(v) * 1e3:.1f}, max {max(v) * 1e3:.1f})")
  print(f"  joined_100 / features: {med['joined_100'] / med['features']:.2f}x; products at {rate / 1e9:.0f} GFLOP/s")
  print(f"full CIFAR-10 Gram per 1,000 filters: featurizing {featurize_s['features']:.0f} s "
        f"(joined_100: {featurize_s['joined_100']:.0f} s) + products {products_s:.0f} s")
  if args.out:
    import ml_collections
    config = ml_collections.ConfigDict({"images": args.images, "filters": args.filters, "chunk": chunk,
                                        "reps": args.reps, "regions": regions})
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    path = records.write_results(args.out, config, ds.provenance, script="patch_features", seconds=seconds,
                                 products_gflops=rate / 1e9, featurize_seconds_per_1000=featurize_s,
                                 products_seconds_per_1000=products_s, cpu_threads=os.cpu_count())
    print(f"\nwrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
