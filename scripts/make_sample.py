"""Build the lossless CIFAR-10 / MNIST sample that ships inside the package.

Usage: python scripts/make_sample.py [--shared ../shared/data]

CIFAR-10: canonical train images 0..1999 form the sample's train split and canonical
train images 2000..2499 its held-out ("test") split. Those indices lie inside the range
whose pixels are exact (lossless) in cifar10_lossless_subset.npz, so the sample is
bit-exact canonical CIFAR-10. MNIST: canonical train 0..4999 and test 0..999 from the
bit-exact mnist.npz. The output is deterministic: re-running it gives the same bytes.
"""

import argparse
import hashlib
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "rethink_jax" / "sample_data"
CIFAR_TRAIN = range(0, 2000)
CIFAR_HELDOUT = range(2000, 2500)
MNIST_TRAIN, MNIST_TEST = 5000, 1000


def digest(a: np.ndarray) -> str:
  return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--shared", default=str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
  args = parser.parse_args()
  shared = pathlib.Path(args.shared)
  OUT.mkdir(parents=True, exist_ok=True)

  sub = np.load(shared / "cifar10_lossless_subset.npz")
  idx = sub["train_idx"]
  pos = {int(i): k for k, i in enumerate(idx)}
  take = lambda r: np.array([pos[i] for i in r])
  tr, te = take(CIFAR_TRAIN), take(CIFAR_HELDOUT)
  cifar = dict(
      x_train=sub["x_train"][tr], y_train=sub["y_train"][tr].astype(np.uint8),
      x_test=sub["x_train"][te], y_test=sub["y_train"][te].astype(np.uint8))
  assert np.array_equal(cifar["y_train"], sub["y_train_full_canonical"][list(CIFAR_TRAIN)])
  np.savez_compressed(OUT / "cifar10_sample.npz", **cifar)

  m = np.load(shared / "mnist.npz")
  mnist = dict(
      x_train=m["x_train"][:MNIST_TRAIN], y_train=m["y_train"][:MNIST_TRAIN],
      x_test=m["x_test"][:MNIST_TEST], y_test=m["y_test"][:MNIST_TEST])
  np.savez_compressed(OUT / "mnist_sample.npz", **mnist)

  for name, d in (("cifar10", cifar), ("mnist", mnist)):
    print(name, {k: (v.shape, str(v.dtype), digest(v)) for k, v in d.items()})
  total = sum(p.stat().st_size for p in OUT.glob("*.npz"))
  print(f"sample size: {total / 1e6:.2f} MB")


if __name__ == "__main__":
  main()
