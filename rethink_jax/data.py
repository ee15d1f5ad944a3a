"""Real CIFAR-10, CIFAR-100 and MNIST, from the embedded sample, standard files, or TFDS.

The paper's randomization tests (Zhang et al., 2017, Section 2) run on CIFAR-10; its
Section 5 min-norm experiments run on MNIST and CIFAR-10. CIFAR-100 (its 100 fine labels)
is there to run the same tests on more classes. This module only *loads*:
every array it returns is the data as published (``uint8`` images in NHWC layout,
integer labels). Preprocessing lives in :mod:`rethink_jax.preprocess` and the
randomization tests in :mod:`rethink_jax.corruptions`.

Sources (``load(name, source=...)``):

* ``"sample"`` (default): a lossless sample that ships inside the package, so every
  example and test runs with no download. CIFAR-10: canonical train images 0..1999
  (train split) and 2000..2499 (held-out split, used as "test"); MNIST: canonical train
  0..4999 and test 0..999. See ``rethink_jax/sample_data/README.md``. There is no
  CIFAR-100 sample: ``load("cifar100")`` needs ``"files"`` or ``"tfds"``.
* ``"files"``: the standard files a user downloads themselves (or with
  :func:`download`): the CIFAR-10 python version (``cifar-10-python.tar.gz`` or the
  extracted ``cifar-10-batches-py/``), the CIFAR-100 python version
  (``cifar-100-python.tar.gz`` or the extracted ``cifar-100-python/``, whose ``train`` and
  ``test`` pickles give the fine labels), MNIST's four idx files (gzipped or not), or an
  ``<name>.npz`` holding ``x_train, y_train, x_test, y_test``. The directory is
  ``data_dir`` or the ``RETHINK_JAX_DATA`` environment variable.
* ``"tfds"``: TensorFlow Datasets (``cifar10``, ``cifar100``, whose ``label`` is the fine
  label, ``mnist``). Reads a prepared dataset with ``tfds.data_source``
  (no TensorFlow needed when prepared in ``array_record`` format) and falls back to
  ``tfds.load`` when TensorFlow is installed (the ``tfds`` extra: ``pip install -e '.[tfds]'``
  in a clone).

A file that is empty, truncated or corrupt (a cut gzip or zip, a wrong idx magic number, a
pickle without CIFAR's keys, an ``.npz`` without the four arrays or with wrong shapes) is
one :class:`DataError` that names the file, says what is wrong and what to do; never a
``struct``, ``zipfile``, ``pickle``, ``gzip`` or numpy error.

Provenance. A dataset's ``provenance`` (kept in run records) says what the data *is*, not
where it lay: for ``"files"`` and ``"tfds"`` the file's base name (or the TFDS name), the
dataset, its split sizes and a content :func:`fingerprint`, and no directory, e.g. ::

  cifar10.npz (CIFAR-10, 50,000 train + 10,000 test images; sha256 5aaf8a2cf2e577ff:2b7cd2f2...)

(the fingerprint is shortened here: it has four parts of 16 hex digits). The same arrays give
the same fingerprint whichever format or folder they were read from. The embedded sample
keeps ``rethink_jax embedded <name> sample (lossless)``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import importlib.resources
import math
import os
import pathlib
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib

import numpy as np

__all__ = [
    "Dataset", "DataError", "load", "from_arrays", "load_cifar10n", "CIFAR10N_VARIANTS", "download", "NAMES", "CLASS_NAMES", "SOURCES", "NUM_CLASSES",
    "DATA_DIR_ENV", "REMOTE_FILES", "fingerprint",
]

NAMES = ("cifar10", "mnist", "cifar100")
SOURCES = ("sample", "files", "tfds")
NUM_CLASSES = {"cifar10": 10, "mnist": 10, "cifar100": 100}
IMAGE_SHAPE = {"cifar10": (32, 32, 3), "mnist": (28, 28, 1), "cifar100": (32, 32, 3)}
CLASS_NAMES = {"cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
               "mnist": tuple(str(i) for i in range(10)),
               # the 100 fine labels, in the order of the official meta file's fine_label_names
               "cifar100": (
                   "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
                   "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
                   "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
                   "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
                   "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
                   "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
                   "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
                   "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
                   "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
                   "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
                   "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman",
                   "worm")}
DATA_DIR_ENV = "RETHINK_JAX_DATA"
DISPLAY_NAMES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "cifar100": "CIFAR-100"}
_SAMPLES = ("cifar10", "mnist")  # the datasets with an embedded sample

# Official archives and their published MD5 checksums (the ones torchvision verifies).
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
REMOTE_FILES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "cifar10": (_CIFAR_URL, (("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),)),
    "cifar100": (_CIFAR_URL, (("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),)),
    "mnist": (_MNIST_URL, (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    )),
}


class DataError(ValueError):
  """A dataset could not be found, read or validated; the message says what to do."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """Train and test arrays of one dataset.

  Attributes:
    name: one of :data:`NAMES` (``"cifar10"``, ``"mnist"``, ``"cifar100"``), or your arrays' name.
    x_train: ``[n_train, H, W, C]`` images, ``uint8`` as published (a Gaussian-input
      corruption replaces them by ``float32`` values on the same 0..255 scale).
    y_train: ``[n_train]`` ``int32`` labels in ``[0, num_classes)`` (the loaders' dtype;
      any integer dtype is accepted, its values checked in that dtype).
    x_test: ``[n_test, H, W, C]`` images.
    y_test: ``[n_test]`` ``int32`` labels.
    num_classes: number of classes, an int >= 2.
    provenance: what the arrays are, for run records: portable (no directory path), with a
      content :func:`fingerprint` for files and TFDS (see the module docstring).
    clean_y_train: ``[n_train]`` the clean labels of the training set when ``y_train`` holds
      labels corrupted before the library saw them (:func:`from_arrays`); ``None``: the
      labels are clean. Per-example records count an example as corrupted where the two differ.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  provenance: str
  clean_y_train: np.ndarray | None = None

  def __post_init__(self):
    _validate(self)

  @property
  def image_shape(self) -> tuple[int, ...]:
    return tuple(self.x_train.shape[1:])

  def __repr__(self) -> str:
    return (f"Dataset({self.name!r}, train={self.x_train.shape} {self.x_train.dtype}, "
            f"test={self.x_test.shape}, num_classes={self.num_classes}, "
            f"provenance={self.provenance!r})")


def _check_label_values(y: np.ndarray, num_classes: int, where: str) -> None:
  """Raises unless every label lies in ``[0, num_classes)``, compared in ``y``'s own dtype.

  Called before any cast to ``int32``: a cast first would wrap ``2**32 + 3`` into class 3.
  """
  if not y.size:
    return
  bad = (y < 0) | (y >= num_classes)
  if bad.any():
    raise DataError(f"{where}: labels must lie in [0, {num_classes}) for {num_classes} classes; got "
                    f"{np.unique(y[bad])[:5].tolist()} ({int(bad.sum())} of {y.size} labels, dtype {y.dtype}).")


def _check_num_classes(k, name: str) -> None:
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= np.iinfo(np.int32).max:
    raise DataError(f"{name}: num_classes must be an int in [2, 2**31 - 1], got {k!r}.")


def _validate(ds: Dataset) -> None:
  k = ds.num_classes
  _check_num_classes(k, ds.name)
  for split in ("train", "test"):
    x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
      raise DataError(f"{ds.name}: x_{split} and y_{split} must be numpy arrays.")
    if x.ndim != 4:
      raise DataError(f"{ds.name}: x_{split} must be NHWC with 4 dimensions, got shape {x.shape}.")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
      raise DataError(f"{ds.name}: x_{split} must be uint8 (or float), got {x.dtype}.")
    # Once per dataset, on the host: min and max carry any NaN or inf and copy nothing.
    if x.dtype != np.uint8 and x.size:
      lo, hi = x.min(), x.max()
      if not (np.isfinite(lo) and np.isfinite(hi)):
        raise DataError(f"{ds.name}: x_{split} holds NaN or infinite values.")
      if max(-lo, hi) > np.finfo(np.float32).max:  # the engines train in float32: these would become inf
        raise DataError(f"{ds.name}: x_{split} holds values beyond float32's range (up to {max(-lo, hi):.3g}), "
                        "which training in float32 would turn into inf; rescale them.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
      raise DataError(f"{ds.name}: y_{split} must be a 1-D integer array, got {y.shape} {y.dtype}.")
    if len(x) != len(y):
      raise DataError(f"{ds.name}: {len(x)} images but {len(y)} labels in the {split} split.")
    _check_label_values(y, k, f"{ds.name}: y_{split}")
  if not len(ds.x_train):
    raise DataError(f"{ds.name}: x_train holds no images; a dataset needs at least one training example.")
  if ds.x_train.shape[1:] != ds.x_test.shape[1:]:
    raise DataError(f"{ds.name}: train images {ds.x_train.shape[1:]} and test images "
                    f"{ds.x_test.shape[1:]} differ in shape.")
  c = ds.clean_y_train
  if c is not None:
    if not isinstance(c, np.ndarray) or c.shape != ds.y_train.shape or not np.issubdtype(c.dtype, np.integer):
      raise DataError(f"{ds.name}: clean_y_train must be an integer array shaped like y_train {ds.y_train.shape}, "
                      f"got {getattr(c, 'shape', type(c).__name__)} {getattr(c, 'dtype', '')}.")
    _check_label_values(c, k, f"{ds.name}: clean_y_train")


def from_arrays(name: str, x_train, y_train, x_test, y_test, *, num_classes: int,
                clean_y_train=None) -> Dataset:
  """A dataset of your own arrays, for the training engines (``config.data.source = "arrays"``,
  ``config.data.name = name``; pass it as ``dataset=``).

  Images ``[N, H, W, C]`` (``uint8``, or floats on the 0..255 scale), integer labels in
  ``[0, num_classes)``. ``clean_y_train``: when ``y_train`` holds labels you corrupted
  yourself (your own noise model), their clean values, so that per-example records and the
  reports know which examples are corrupted. The provenance names the arrays by their
  content :func:`fingerprint`, which also keeps a run directory from resuming on other arrays.
  """
  if not isinstance(name, str) or not name:
    raise DataError(f"from_arrays: name must be a non-empty string, got {name!r}.")
  _check_num_classes(num_classes, f"from_arrays({name!r})")  # before the labels are compared with it
  arrays = {}
  for key, a in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test),
                 ("clean_y_train", clean_y_train)):
    if a is None:
      continue
    a = np.asarray(a)
    if key.startswith("x") or key.startswith("clean") or a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
      arrays[key] = a
      continue
    _check_label_values(a, num_classes, f"{name}: {key}")  # before the int32 cast
    arrays[key] = a.astype(np.int32)
  if "clean_y_train" in arrays and np.issubdtype(arrays["clean_y_train"].dtype, np.integer):
    _check_label_values(arrays["clean_y_train"], num_classes, f"{name}: clean_y_train")
    arrays["clean_y_train"] = arrays["clean_y_train"].astype(np.int32)
  ds = Dataset(name=name, num_classes=num_classes, provenance="", **arrays)
  noisy = "" if ds.clean_y_train is None else \
      f", {int(np.sum(ds.clean_y_train != ds.y_train)):,} training labels given corrupted"
  return dataclasses.replace(ds, provenance=f"{name} (arrays, {len(ds.y_train):,} train + {len(ds.y_test):,} test "
                                            f"images, {num_classes} classes{noisy}; sha256 {fingerprint(ds)})")


def fingerprint(ds: Dataset) -> str:
  """A content fingerprint of a dataset's four arrays: ``"xtr:ytr:xte:yte"``, 16 hex each.

  Each part is the first 16 hex digits of the SHA-256 of one array's raw bytes, in the order
  ``x_train, y_train, x_test, y_test``: images as C-ordered NHWC bytes (``uint8`` as loaded;
  a channel axis adds no bytes, so MNIST's ``[N, 28, 28]`` hashes the same), labels as
  ``uint8`` when ``num_classes <= 256`` (else little-endian ``int32``), whatever dtype they
  were read in. So the same data gives the same fingerprint from an ``.npz``, the CIFAR-10
  pickles, MNIST's idx files or TFDS, in any directory; and it is the convention of
  ``../shared/data/README.txt`` ("sha256 of raw array bytes (first 16 hex)"), whose arrays
  are ``uint8`` too: ``cifar10.npz`` there gives ``5aaf8a2cf2e577ff:2b7cd2f244873176:...``.
  Hashing CIFAR-10 (180 MB) takes about 0.3 s.

  Args:
    ds: a :class:`Dataset` (or anything with its ``x_train``... and ``num_classes``).
  """
  label_dtype = np.uint8 if ds.num_classes <= 256 else np.dtype("<i4")
  parts = []
  for key in ("x_train", "y_train", "x_test", "y_test"):
    a = np.asarray(getattr(ds, key))
    if key.startswith("y"):
      a = a.astype(label_dtype)
    elif a.dtype != np.uint8:
      a = a.astype(a.dtype.newbyteorder("<"))
    parts.append(hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()[:16])
  return ":".join(parts)


def _portable(ds: Dataset, origin: str) -> str:
  """``origin (CIFAR-10, 50,000 train + 10,000 test images; sha256 ...)``: no path in it."""
  return (f"{origin} ({DISPLAY_NAMES.get(ds.name, ds.name)}, {len(ds.y_train):,} train + {len(ds.y_test):,} "
          f"test images; sha256 {fingerprint(ds)})")


def _make(name: str, arrays: dict[str, np.ndarray], where: str, origin: str | None = None) -> Dataset:
  """Normalise layout (add a channel axis to MNIST) and dtypes, then validate.

  Labels are range-checked in the dtype they were read in, then cast to ``int32``.

  Args:
    where: the file(s) read, path included, for error messages.
    origin: the portable part of the provenance (a base name, no directory); the provenance is
      then ``origin (dataset, sizes; sha256 fingerprint)``. None: the provenance is ``where``.
  """
  out = {}
  for split in ("train", "test"):
    x, y = np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"])
    shape = x.shape
    if x.ndim == 3:
      x = x[..., None]
    if x.dtype != np.uint8:
      raise DataError(f"{name}: x_{split} in {where} has dtype {x.dtype}, expected uint8.")
    if x.shape[1:] != IMAGE_SHAPE[name]:
      raise DataError(f"{name}: x_{split} in {where} has image shape {x.shape[1:]} (array shape {shape}), "
                      f"expected [N, {', '.join(map(str, IMAGE_SHAPE[name]))}].")
    if not np.issubdtype(y.dtype, np.integer):  # floats, bools, object arrays of huge ints
      raise DataError(f"{name}: y_{split} in {where} has dtype {y.dtype}, expected integers.")
    if y.ndim > 1 and y.size == y.shape[0]:  # [N, 1] labels
      y = y.reshape(-1)
    if y.ndim != 1:
      raise DataError(f"{name}: y_{split} in {where} has shape {y.shape}, expected [N] labels.")
    if len(x) != len(y):
      raise DataError(f"{name}: {where} holds {len(x)} images but {len(y)} labels in the {split} split; the "
                      "file is corrupt or its arrays do not belong together.")
    if not len(x):
      raise DataError(f"{name}: {where} holds no {split} images.")
    _check_label_values(y, NUM_CLASSES[name], f"{name}: y_{split} in {where}")  # before the int32 cast
    out[f"x_{split}"] = np.ascontiguousarray(x)
    out[f"y_{split}"] = y.astype(np.int32)
  ds = Dataset(name=name, num_classes=NUM_CLASSES[name], provenance=where, **out)
  return ds if origin is None else dataclasses.replace(ds, provenance=_portable(ds, origin))


def load(name: str, *, source: str = "sample", data_dir: str | os.PathLike | None = None) -> Dataset:
  """Loads CIFAR-10 or MNIST (the paper's datasets, Sections 2 and 5), or CIFAR-100.

  Args:
    name: ``"cifar10"``, ``"mnist"`` or ``"cifar100"`` (100 classes: the fine labels).
    source: ``"sample"`` (embedded, default; CIFAR-10 and MNIST only), ``"files"`` or ``"tfds"``.
    data_dir: directory for ``"files"`` (default: ``$RETHINK_JAX_DATA``) or the TFDS
      data directory for ``"tfds"`` (default: TFDS's own default).

  Returns:
    A :class:`Dataset` with ``uint8`` NHWC images and ``int32`` labels.

  Raises:
    DataError: unknown name or source, missing or corrupt files, bad shapes or labels.
  """
  if name not in NAMES:
    raise DataError(f"Unknown dataset {name!r}; choose one of {NAMES}.")
  if source == "sample":
    return _load_sample(name)
  if source == "files":
    return _load_files(name, _resolve_dir(data_dir))
  if source == "tfds":
    return _load_tfds(name, data_dir)
  raise DataError(f"Unknown source {source!r}; choose one of {SOURCES}.")


# ----------------------------------------------------------------------------- sample

def _load_sample(name: str) -> Dataset:
  if name not in _SAMPLES:
    files = REMOTE_FILES[name][1]
    raise DataError(  # one line: the command-line scripts print it as "error: ..."
        f"There is no embedded {DISPLAY_NAMES[name]} sample (only {', '.join(map(repr, _SAMPLES))} have one): "
        f"use source='files' (config data.source=files) with data_dir holding "
        + (f"{files[0][0]}, its extracted {_CIFAR[name].folder}/ or " if name in _CIFAR else "")
        + f"{name}.npz (rethink_jax.data.download({name!r}, data_dir) fetches the official files), "
        f"or source='tfds' with TFDS {name!r} prepared.")
  ref = importlib.resources.files("rethink_jax") / "sample_data" / f"{name}_sample.npz"
  with importlib.resources.as_file(ref) as path:
    if not path.exists():
      raise DataError(f"The embedded sample {path} is missing; reinstall rethink-jax.")
    return _load_npz(name, path, sample=True)


_REFETCH = "delete it and fetch it again"


def _why(e: BaseException) -> str:
  """``Type: message`` on one line (tarfile's and numpy's messages can span several)."""
  return f"{type(e).__name__}: {' '.join(str(e).split())}"


def _nonempty(path: pathlib.Path, todo: str = _REFETCH) -> int:
  """The size of ``path``; a DataError if it is empty or cannot be read."""
  try:
    size = path.stat().st_size
  except OSError as e:
    raise DataError(f"Could not read {path}: {e.strerror or e}.") from e
  if not size:
    raise DataError(f"{path} is empty (0 bytes): a download or copy that stopped at the start; {todo}.")
  return size


def _load_npz(name: str, path: pathlib.Path, sample: bool = False) -> Dataset:
  todo = "reinstall rethink-jax" if sample else f"{_REFETCH} (or write it again with numpy.savez)"
  size = _nonempty(path, todo)
  try:
    with open(path, "rb") as fh:
      head = fh.read(6)
      fh.seek(0)
      if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        raise DataError(f"{path} ({size:,} bytes) is not an .npz file: it starts with {head!r}, not a zip "
                        f"archive's 'PK'; {todo}.")
      f = np.load(fh, allow_pickle=False)
      if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, not an .npz archive of x_train, y_train, x_test, "
                        f"y_test; write it with numpy.savez.")
      with f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
          raise DataError(f"{path} lacks the arrays {sorted(missing)} (it has {sorted(f.files)}); an .npz for "
                          f"{name} must hold x_train, y_train, x_test, y_test; {todo}.")
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
  except DataError:
    raise
  except Exception as e:  # zipfile/zlib/EOF/numpy header errors: a truncated or corrupt file
    if "allow_pickle" in str(e):
      raise DataError(f"{path} holds arrays of Python objects, which are not unpickled (unsafe); write it again "
                      "with numpy.savez and numeric arrays.") from e
    raise DataError(f"Could not read {path} ({size:,} bytes) as an .npz: {_why(e)}. The file is corrupt or "
                    f"truncated; {todo}.") from e
  if sample:
    return _make(name, arrays, f"rethink_jax embedded {name} sample (lossless)")
  return _make(name, arrays, f"npz file {path}", origin=path.name)


# ----------------------------------------------------------------------------- files

def _resolve_dir(data_dir) -> pathlib.Path:
  if data_dir is None:
    data_dir = os.environ.get(DATA_DIR_ENV)
    if not data_dir:
      raise DataError(f"source='files' needs data_dir=... or the {DATA_DIR_ENV} environment "
                      "variable; rethink_jax.data.download(name, data_dir) fetches the files.")
  path = pathlib.Path(data_dir).expanduser()
  if not path.is_dir():
    raise DataError(f"Data directory {path} does not exist. Create it and put the dataset files "
                    "there, or call rethink_jax.data.download(name, data_dir).")
  return path


def _candidates(data_dir: pathlib.Path, name: str) -> list[pathlib.Path]:
  return [data_dir, data_dir / name]


def _load_files(name: str, data_dir: pathlib.Path) -> Dataset:
  looked: list[str] = []
  for d in _candidates(data_dir, name):
    npz = d / f"{name}.npz"
    looked.append(str(npz))
    if npz.is_file():
      return _load_npz(name, npz)
    if name in _CIFAR:
      cifar = _CIFAR[name]
      folder, tarball = d / cifar.folder, d / cifar.archive
      looked += [str(folder) + "/", str(tarball)]
      if folder.is_dir():
        return _cifar_from_dir(folder, cifar)
      if tarball.is_file():
        return _cifar_from_tar(tarball, cifar)
    else:
      found = _find_idx(d)
      looked += [str(d / f) + "[.gz]" for f in _MNIST_IDX.values()]
      if found is not None:
        return _mnist_from_idx(found)
  base, files = REMOTE_FILES[name]
  raise DataError(  # one line: the command-line scripts print it as "error: ..."
      f"No {name} files found; looked for " + ", ".join(looked) +
      f". Get them from {base} ({', '.join(f for f, _ in files)}) or run "
      f"rethink_jax.data.download({name!r}, {str(data_dir)!r}).")


_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)


@dataclasses.dataclass(frozen=True)
class _CifarVersion:
  """One CIFAR python version: its archive, folder, pickles and label key, and the words its
  messages use. Both versions pickle dicts with ``data`` ([N, 3072] uint8, CHW rows)."""

  name: str
  archive: str  # the official archive
  folder: str  # the folder it extracts to
  train: tuple[str, ...]  # the pickles of each split, in canonical order
  test: tuple[str, ...]
  labels: str  # the label key: CIFAR-10's "labels", CIFAR-100's "fine_labels"
  unit: str  # what one pickle is called in messages
  files: str  # the pickles, for messages

  @property
  def display(self) -> str:
    return DISPLAY_NAMES[self.name]


_CIFAR = {
    "cifar10": _CifarVersion("cifar10", "cifar-10-python.tar.gz", "cifar-10-batches-py", _CIFAR_TRAIN, _CIFAR_TEST,
                             "labels", "batch", "data_batch_1..5 and test_batch"),
    "cifar100": _CifarVersion("cifar100", "cifar-100-python.tar.gz", "cifar-100-python", ("train",), ("test",),
                              "fine_labels", "file", "train and test"),
}


_REDOWNLOAD = "delete it and download it again"


def _cifar_field(d: dict, key: str):
  """``d[b"data"]`` (the canonical Python 2 pickles) or ``d["data"]`` (a re-pickled copy)."""
  return d[key.encode()] if key.encode() in d else d[key]


def _cifar_batch(raw: bytes, where: str, todo: str, cifar: _CifarVersion = _CIFAR["cifar10"]
                 ) -> tuple[np.ndarray, np.ndarray]:
  """One CIFAR python pickle: a dict with ``data`` ([N, 3072] uint8) and ``cifar.labels``
  (CIFAR-10's batches: ``labels``; CIFAR-100's ``train``/``test``: ``fine_labels``)."""
  what = f"{cifar.display} {cifar.unit} {where}"
  if not raw:
    raise DataError(f"{what} is empty (0 bytes); {todo}.")
  try:
    d = pickle.loads(raw, encoding="bytes")
  except Exception as e:  # EOFError, UnpicklingError, ValueError, ... : truncated or corrupt
    raise DataError(f"Could not unpickle {what} ({len(raw):,} bytes): {_why(e)}. "
                    f"The file is corrupt or truncated; {todo}.") from e
  if not isinstance(d, dict):
    raise DataError(f"{what} holds a {type(d).__name__}, not the dict of a {cifar.display} python "
                    f"{cifar.unit}; {todo}.")
  missing = [k for k in ("data", cifar.labels) if k not in d and k.encode() not in d]
  if missing:
    raise DataError(f"{what} lacks the keys {missing} (it has "
                    f"{sorted(k.decode() if isinstance(k, bytes) else str(k) for k in d)[:8]}); it is not a "
                    f"{cifar.display} python {cifar.unit}; {todo}.")
  try:
    data, labels = np.asarray(_cifar_field(d, "data")), np.asarray(_cifar_field(d, cifar.labels))
  except Exception as e:  # ragged lists
    raise DataError(f"{what}: its data or labels are not arrays ({_why(e)}); {todo}.") from e
  if (data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1
      or len(data) != len(labels)):
    raise DataError(f"{what} has data {data.shape} {data.dtype} and labels {labels.shape}; "
                    f"expected [N, 3072] uint8 and N labels; {todo}.")
  # Rows hold 1024 red, 1024 green, 1024 blue values: CHW; the library is NHWC.
  return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar_assemble(read: dict[str, bytes], where: str, member, origin: str, todo: str,
                    cifar: _CifarVersion = _CIFAR["cifar10"]) -> Dataset:
  """``member(pickle)``: the file a pickle came from, for messages."""
  parts = {s: [_cifar_batch(read[f], member(f), todo, cifar) for f in files]
           for s, files in (("train", cifar.train), ("test", cifar.test))}
  arrays = {}
  for s, batches in parts.items():
    arrays[f"x_{s}"] = np.concatenate([b[0] for b in batches])
    arrays[f"y_{s}"] = np.concatenate([b[1] for b in batches])
  return _make(cifar.name, arrays, where, origin=origin)


def _cifar_from_dir(path: pathlib.Path, cifar: _CifarVersion = _CIFAR["cifar10"]) -> Dataset:
  wanted = cifar.train + cifar.test
  missing = [f for f in wanted if not (path / f).is_file()]
  if missing:
    raise DataError(f"{path} lacks {missing}; the {cifar.display} python version has {cifar.files}. "
                    f"Extract {cifar.archive} again.")
  read = {}
  for f in wanted:
    try:
      read[f] = (path / f).read_bytes()
    except OSError as e:
      raise DataError(f"Could not read {path / f}: {e.strerror or e}.") from e
  todo = f"extract {cifar.archive} again, or delete the folder and download the archive again"
  kind = "batches" if cifar.unit == "batch" else "files"
  return _cifar_assemble(read, f"{cifar.display} python {kind} {path}", lambda f: str(path / f), path.name, todo,
                         cifar)


def _cifar_from_tar(path: pathlib.Path, cifar: _CifarVersion = _CIFAR["cifar10"]) -> Dataset:
  size = _nonempty(path, _REDOWNLOAD)
  wanted = cifar.train + cifar.test
  read: dict[str, bytes] = {}
  try:
    with open(path, "rb") as f:
      gz = f.read(2) == b"\x1f\x8b"
  except OSError as e:
    raise DataError(f"Could not read {path}: {e.strerror or e}.") from e
  try:
    with tarfile.open(path, "r:gz" if gz else "r:*") as tar:
      for member in tar:
        base = member.name.rsplit("/", 1)[-1]
        if member.isfile() and base in wanted:
          read[base] = tar.extractfile(member).read()
      while tar.fileobj.read(1 << 20):  # to the end: gzip checks its length and CRC there
        pass
  except (tarfile.TarError, EOFError, OSError, zlib.error) as e:  # OSError: gzip.BadGzipFile, CRC
    cut = isinstance(e, EOFError) or "unexpected end" in str(e)
    what = ("truncated (it ends early)" if cut else "corrupt or truncated" if gz else
            "not a gzip or tar archive (or it is corrupt)")
    raise DataError(f"Could not read {path} ({size:,} bytes): {_why(e)}. The archive is {what}; "
                    f"{_REDOWNLOAD}.") from e
  missing = [f for f in wanted if f not in read]
  if missing:
    raise DataError(f"{path} lacks {missing}: it is truncated, or not the {cifar.display} *python* version "
                    f"({cifar.archive}); {_REDOWNLOAD}.")
  return _cifar_assemble(read, f"{cifar.display} python archive {path}", lambda f: f"{f} in {path}", path.name,
                         _REDOWNLOAD, cifar)


_MNIST_IDX = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
              "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def _find_idx(d: pathlib.Path) -> dict[str, pathlib.Path] | None:
  found = {}
  for key, stem in _MNIST_IDX.items():
    for candidate in (d / stem, d / f"{stem}.gz", d / stem.replace("-idx", ".idx")):
      if candidate.is_file():
        found[key] = candidate
        break
  if not found:
    return None
  if len(found) < 4:
    missing = [_MNIST_IDX[k] for k in _MNIST_IDX if k not in found]
    raise DataError(f"{d} holds only some MNIST idx files; missing {missing} (.gz or not). Download them "
                    f"with rethink_jax.data.download('mnist', {str(d)!r}).")
  return found


def _read_idx(path: pathlib.Path, ndim: int | None = None) -> np.ndarray:
  """Reads one idx file (the format of LeCun's MNIST files), gzipped or not.

  ``ndim``: the dimensions the file must have (3 for images, 1 for labels), or None for any.
  """
  _nonempty(path, _REDOWNLOAD)
  try:
    with open(path, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise DataError(f"Could not read {path}: {e.strerror or e}.") from e
  if raw[:2] == b"\x1f\x8b":
    try:
      raw = gzip.decompress(raw)
    except EOFError as e:
      raise DataError(f"{path} is truncated: its gzip stream ends early ({_why(e)}); {_REDOWNLOAD}.") from e
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile, CRC check failed, invalid block
      raise DataError(f"{path} is not a readable gzip file ({_why(e)}): it is corrupt; "
                      f"{_REDOWNLOAD}.") from e
  if len(raw) < 4:
    raise DataError(f"{path} is truncated: {len(raw)} bytes, too short for an idx header; {_REDOWNLOAD}.")
  if raw[:2] != b"\x00\x00" or raw[2] != 0x08 or (ndim is not None and raw[3] != ndim):
    want = (f"00 00 08 {ndim:02x}" if ndim is not None else "00 00 08 <ndim>")
    raise DataError(f"{path} is not an MNIST unsigned-byte idx file{'' if ndim is None else f' of {ndim}-D data'}: "
                    f"its magic number is {raw[:4].hex(' ')}, expected {want}; {_REDOWNLOAD}.")
  ndim = raw[3]
  if len(raw) < 4 + 4 * ndim:
    raise DataError(f"{path} is truncated inside its header ({len(raw)} bytes); {_REDOWNLOAD}.")
  dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
  body = raw[4 + 4 * ndim:]
  want = math.prod(dims)
  if len(body) < want:
    raise DataError(f"{path} is truncated: its header says {dims} ({want:,} bytes) but {len(body):,} bytes "
                    f"follow; {_REDOWNLOAD}.")
  if len(body) > want:
    raise DataError(f"{path} is corrupt: its header says {dims} ({want:,} bytes) but {len(body):,} bytes "
                    f"follow; {_REDOWNLOAD}.")
  return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _mnist_from_idx(found: dict[str, pathlib.Path]) -> Dataset:
  arrays = {k: _read_idx(p, 3 if k.startswith("x") else 1) for k, p in found.items()}
  for split in ("train", "test"):
    x, y = f"x_{split}", f"y_{split}"
    if arrays[x].shape[1:] != IMAGE_SHAPE["mnist"][:2]:
      raise DataError(f"{found[x]} holds images of {arrays[x].shape[1:]}, not MNIST's 28x28; {_REDOWNLOAD}.")
    if len(arrays[x]) != len(arrays[y]):
      raise DataError(f"{found[x]} holds {len(arrays[x]):,} images but {found[y]} {len(arrays[y]):,} labels: "
                      f"the files do not belong together; download them again.")
  return _make("mnist", arrays, f"MNIST idx files in {found['x_train'].parent}", origin="MNIST idx files")


# ----------------------------------------------------------------------------- tfds

def _load_tfds(name: str, data_dir) -> Dataset:
  import tensorflow_datasets as tfds  # heavy import: only when asked for

  kwargs = dict(data_dir=None if data_dir is None else str(data_dir), download=False)
  try:
    arrays = {}
    for split in ("train", "test"):
      source = tfds.data_source(name, split=split, **kwargs)
      examples = [source[i] for i in range(len(source))]
      arrays[f"x_{split}"] = np.stack([np.asarray(e["image"]) for e in examples])
      arrays[f"y_{split}"] = np.asarray([e["label"] for e in examples])
  except Exception as first:  # not prepared as array_record: try tf.data if TF is there
    try:
      import tensorflow  # noqa: F401
    except ImportError:
      raise DataError(
          f"Could not read TFDS {name!r} with tfds.data_source ({_why(first)}). "
          f"Prepare it with `tfds build {name} --file_format=array_record` (no TensorFlow needed "
          "to read it), or install the tfds extra (`pip install -e '.[tfds]'` in a clone) to read TFRecord "
          "datasets.") from first
    try:
      splits = tfds.as_numpy(tfds.load(name, split=["train", "test"], batch_size=-1, **kwargs))
    except Exception as e:
      raise DataError(f"TFDS {name!r} is not prepared in {data_dir or 'the default TFDS dir'}: "
                      f"{_why(e)}. Prepare it with `tfds build {name}`.") from e
    arrays = {}
    for split, d in zip(("train", "test"), splits):
      arrays[f"x_{split}"], arrays[f"y_{split}"] = d["image"], d["label"]
    return _make(name, arrays, f"tfds {name} (tf.data) in {data_dir or 'default TFDS dir'}", origin=f"tfds {name}")
  # Validated outside the try: bad labels or shapes are a DataError of their own, not a
  # reason to fall back to tf.data.
  return _make(name, arrays, f"tfds {name} (data_source) in {data_dir or 'default TFDS dir'}",
               origin=f"tfds {name}")


# ----------------------------------------------------------------------------- download

# ----------------------------------------------------------------------------- CIFAR-10N human labels

# config.corruption.variant -> the key of that label set in the CIFAR-10N file.
CIFAR10N_VARIANTS = {"aggregate": "aggre_label", "random1": "random_label1", "random2": "random_label2",
                     "random3": "random_label3", "worst": "worse_label"}



class _NumpyOnlyUnpickler(pickle.Unpickler):
  """Unpickles numpy arrays, dicts and lists only: a downloaded label file cannot run code."""

  _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
              ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
              ("_codecs", "encode")}  # protocol 2 (torch.save's) stores bytes through it

  def find_class(self, module, name):
    if (module, name) in self._ALLOWED:
      return super().find_class(module, name)
    raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

  def persistent_load(self, pid):
    raise pickle.UnpicklingError("it holds torch tensors, not numpy arrays")


def _read_label_file(path: pathlib.Path) -> dict:
  if path.suffix == ".npy":
    with open(path, "rb") as f:  # np.save of a dict: an object array, pickled after the header
      version = np.lib.format.read_magic(f)
      read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
      _, _, dtype = read_header(f)
      if dtype != object:
        raise ValueError(f"a .npy of {dtype} values, not a dict of label arrays")
      obj = _NumpyOnlyUnpickler(f).load()
    if isinstance(obj, np.ndarray) and obj.shape == ():
      obj = obj.item()
  elif path.suffix == ".npz":
    with np.load(path, allow_pickle=False) as z:
      obj = {k: z[k] for k in z.files}
  elif zipfile.is_zipfile(path):  # torch.save's format: a zip holding <name>/data.pkl
    with zipfile.ZipFile(path) as z:
      pkl = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
      if not pkl:
        raise ValueError("a zip file without data.pkl")
      obj = _NumpyOnlyUnpickler(z.open(pkl[0])).load()
  else:
    with open(path, "rb") as f:
      obj = _NumpyOnlyUnpickler(f).load()
  if not isinstance(obj, dict):
    raise ValueError(f"it holds a {type(obj).__name__}, not a dict of label arrays")
  return obj


def load_cifar10n(path: str | os.PathLike, variant: str, clean_labels: np.ndarray | None = None
                  ) -> tuple[np.ndarray, str]:
  """The CIFAR-10N human labels of the CIFAR-10 training set (Wei et al., ICLR 2022).

  ``path`` is the file its authors publish, ``CIFAR-10_human.pt`` from
  https://github.com/UCSC-REAL/cifar-10-100n (``data/``), a dict with ``clean_label``,
  ``aggre_label``, ``worse_label`` and ``random_label1..3`` for the 50,000 training images in
  the canonical order of the CIFAR-10 python version. It is read **without torch** (only
  numpy arrays are unpickled); a ``.npy``/``.npz`` holding the same dict works too.

  Args:
    path: the label file.
    variant: one of :data:`CIFAR10N_VARIANTS` (``aggregate`` ~9% noise, ``random1-3``
      ~17-18%, ``worst`` ~40%).
    clean_labels: the training labels the run uses (the first ``n`` of the canonical
      order); checked against the file's ``clean_label``, so a file from another dataset
      or order is refused.

  Returns:
    ``(labels [n] int, sha256 of the file)``.
  """
  if variant not in CIFAR10N_VARIANTS:
    raise ValueError(f"Unknown CIFAR-10N variant {variant!r}; choose one of {tuple(CIFAR10N_VARIANTS)}.")
  path = pathlib.Path(os.path.expanduser(os.fspath(path)))
  if not path.is_file():
    raise FileNotFoundError(f"CIFAR-10N label file {path} does not exist; download CIFAR-10_human.pt from "
                            "https://github.com/UCSC-REAL/cifar-10-100n (folder data/).")
  try:
    table = _read_label_file(path)
  except (OSError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
    raise ValueError(f"{path} is not a CIFAR-10N label file ({e}).") from None
  key = CIFAR10N_VARIANTS[variant]
  missing = [k for k in ("clean_label", key) if k not in table]
  if missing:
    raise ValueError(f"{path} has no {missing} entry; its entries are {sorted(map(str, table))}.")
  clean, noisy = (np.asarray(table[k]) for k in ("clean_label", key))
  for name, arr in (("clean_label", clean), (key, noisy)):
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
      raise ValueError(f"{path}: {name} must be a 1-D integer vector of CIFAR-10 classes 0..9, got "
                       f"{arr.dtype} of shape {arr.shape}.")
    bad = (arr < 0) | (arr > 9)  # in the file's dtype, before the int32 cast below
    if bad.any():
      raise ValueError(f"{path}: {name} must hold CIFAR-10 classes 0..9 (labels in [0, 10)); got "
                       f"{np.unique(arr[bad])[:5].tolist()} ({int(bad.sum())} of {arr.size} labels).")
  if clean.shape != noisy.shape:
    raise ValueError(f"{path}: clean_label {clean.shape} and {key} {noisy.shape} differ in length.")
  if clean_labels is not None:
    n = len(clean_labels)
    if n > len(clean) or not np.array_equal(clean[:n], np.asarray(clean_labels)):
      raise ValueError(f"{path}'s clean_label does not match this run's {n} training labels: CIFAR-10N labels "
                       "index the full CIFAR-10 training set in canonical order (data.source='files', "
                       "optionally data.max_train), not the embedded sample or another order.")
    noisy = noisy[:n]
  digest = hashlib.sha256(path.read_bytes()).hexdigest()
  return noisy.astype(np.int32), digest


def _md5(path: pathlib.Path) -> str:
  h = hashlib.md5()
  try:
    with open(path, "rb") as f:
      for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
  except OSError as e:
    raise DataError(f"Could not read {path} to check its checksum: {e.strerror or e}.") from e
  return h.hexdigest()


def download(name: str, data_dir: str | os.PathLike, *, base_url: str | None = None,
             progress: bool = True, timeout: float = 60.0) -> pathlib.Path:
  """Fetches the official files that ``load(name, source="files")`` reads.

  Each file's MD5 is checked against the published checksum in :data:`REMOTE_FILES`.
  A file is written under a temporary name and renamed only when complete and verified,
  so an interrupted download never leaves a file that looks finished. Files already
  present with the right checksum are not fetched again; a present file with another
  checksum (empty, truncated, corrupt) is fetched again and replaced.

  Args:
    name: ``"cifar10"`` (the python-version tarball, 163 MB), ``"cifar100"`` (its python-version
      tarball, 161 MB) or ``"mnist"`` (four idx files).
    data_dir: where to put the files; created if needed.
    base_url: a mirror with the same file names (default: the official location).
    progress: show a tqdm progress bar.
    timeout: seconds to wait for the server.

  Returns:
    ``data_dir`` as a path.

  Raises:
    DataError: unknown name, no network, an HTTP error, a download cut short, a checksum
      that differs, or a directory that cannot be written.
  """
  if name not in REMOTE_FILES:
    raise DataError(f"Unknown dataset {name!r}; download() knows {tuple(REMOTE_FILES)}.")
  default_base, files = REMOTE_FILES[name]
  base = base_url or default_base
  out = pathlib.Path(data_dir).expanduser()
  try:
    out.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise DataError(f"Could not create the data directory {out}: {e.strerror or e}.") from e
  for filename, md5 in files:
    target = out / filename
    if target.is_file() and _md5(target) == md5:
      continue
    url = base.rstrip("/") + "/" + filename
    try:
      fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=out)
    except OSError as e:
      raise DataError(f"Could not write in {out}: {e.strerror or e}.") from e
    try:
      with os.fdopen(fd, "wb") as f:
        _fetch(url, f, target, progress=progress, timeout=timeout)
      got = _md5(pathlib.Path(tmp))
      if got != md5:
        raise DataError(f"Checksum mismatch for {url} ({os.path.getsize(tmp):,} bytes): got MD5 {got}, expected "
                        f"{md5}. The file was not kept; try again, and if it recurs the mirror is corrupt or the "
                        "download was altered.")
      try:
        os.replace(tmp, target)
      except OSError as e:
        raise DataError(f"Could not write {target}: {e.strerror or e}.") from e
    finally:
      if os.path.exists(tmp):
        os.unlink(tmp)
  return out


def _fetch(url: str, f, target: pathlib.Path, *, progress: bool, timeout: float) -> None:
  """Streams ``url`` into the open file ``f`` (``target``'s temporary copy)."""
  from tqdm.auto import tqdm

  try:
    with urllib.request.urlopen(url, timeout=timeout) as r:
      total = int(r.headers.get("Content-Length") or 0) or None
      got = 0
      with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                disable=not progress) as bar:
        for block in iter(lambda: r.read(1 << 20), b""):
          try:
            f.write(block)
          except OSError as e:  # a full disk is not a network problem
            raise DataError(f"Could not write {target}: {e.strerror or e}. Nothing was kept.") from e
          got += len(block)
          bar.update(len(block))
  except urllib.error.HTTPError as e:
    raise DataError(f"Downloading {url} failed with HTTP {e.code} {e.reason}.") from e
  except http.client.IncompleteRead as e:
    raise DataError(f"The download of {url} was cut short ({e!r}); nothing was kept. Run download() "
                    "again.") from e
  except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
    raise DataError(f"Could not reach {url} ({_why(e)}). Are you offline? Fetch the files by other "
                    "means and use load(..., source='files', data_dir=...).") from e
  if total is not None and got != total:
    raise DataError(f"The download of {url} was cut short: {got:,} of {total:,} bytes; nothing was kept. "
                    "Run download() again.")
