"""Real CIFAR-10 and MNIST, from the embedded sample, standard files, or TFDS.

The paper's randomization tests (Zhang et al., 2017, Section 2) run on CIFAR-10; its
Section 5 min-norm experiments run on MNIST and CIFAR-10. This module only *loads*:
every array it returns is the data as published (``uint8`` images in NHWC layout,
integer labels). Preprocessing lives in :mod:`rethink_jax.preprocess` and the
randomization tests in :mod:`rethink_jax.corruptions`.

Sources (``load(name, source=...)``):

* ``"sample"`` (default): a lossless sample that ships inside the package, so every
  example and test runs with no download. CIFAR-10: canonical train images 0..1999
  (train split) and 2000..2499 (held-out split, used as "test"); MNIST: canonical train
  0..4999 and test 0..999. See ``rethink_jax/sample_data/README.md``.
* ``"files"``: the standard files a user downloads themselves (or with
  :func:`download`): the CIFAR-10 python version (``cifar-10-python.tar.gz`` or the
  extracted ``cifar-10-batches-py/``), MNIST's four idx files (gzipped or not), or an
  ``<name>.npz`` holding ``x_train, y_train, x_test, y_test``. The directory is
  ``data_dir`` or the ``RETHINK_JAX_DATA`` environment variable.
* ``"tfds"``: TensorFlow Datasets. Reads a prepared dataset with ``tfds.data_source``
  (no TensorFlow needed when prepared in ``array_record`` format) and falls back to
  ``tfds.load`` when TensorFlow is installed (``pip install rethink-jax[tfds]``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.resources
import os
import pathlib
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import numpy as np

__all__ = [
    "Dataset", "DataError", "load", "download", "NAMES", "CLASS_NAMES", "SOURCES", "NUM_CLASSES",
    "DATA_DIR_ENV", "REMOTE_FILES",
]

NAMES = ("cifar10", "mnist")
SOURCES = ("sample", "files", "tfds")
NUM_CLASSES = {"cifar10": 10, "mnist": 10}
IMAGE_SHAPE = {"cifar10": (32, 32, 3), "mnist": (28, 28, 1)}
CLASS_NAMES = {"cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
               "mnist": tuple(str(i) for i in range(10))}
DATA_DIR_ENV = "RETHINK_JAX_DATA"

# Official archives and their published MD5 checksums (the ones torchvision verifies).
_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
REMOTE_FILES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "cifar10": (_CIFAR10_URL, (("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),)),
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
    name: ``"cifar10"`` or ``"mnist"``.
    x_train: ``[n_train, H, W, C]`` images, ``uint8`` as published (a Gaussian-input
      corruption replaces them by ``float32`` values on the same 0..255 scale).
    y_train: ``[n_train]`` ``int32`` labels in ``[0, num_classes)`` (the loaders' dtype;
      any integer dtype is accepted, its values checked in that dtype).
    x_test: ``[n_test, H, W, C]`` images.
    y_test: ``[n_test]`` ``int32`` labels.
    num_classes: number of classes, an int >= 2.
    provenance: where the arrays came from, for run records.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  provenance: str

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


def _validate(ds: Dataset) -> None:
  k = ds.num_classes
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= np.iinfo(np.int32).max:
    raise DataError(f"{ds.name}: num_classes must be an int in [2, 2**31 - 1], got {k!r}.")
  for split in ("train", "test"):
    x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
      raise DataError(f"{ds.name}: x_{split} and y_{split} must be numpy arrays.")
    if x.ndim != 4:
      raise DataError(f"{ds.name}: x_{split} must be NHWC with 4 dimensions, got shape {x.shape}.")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
      raise DataError(f"{ds.name}: x_{split} must be uint8 (or float), got {x.dtype}.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
      raise DataError(f"{ds.name}: y_{split} must be a 1-D integer array, got {y.shape} {y.dtype}.")
    if len(x) != len(y):
      raise DataError(f"{ds.name}: {len(x)} images but {len(y)} labels in the {split} split.")
    _check_label_values(y, k, f"{ds.name}: y_{split}")
  if ds.x_train.shape[1:] != ds.x_test.shape[1:]:
    raise DataError(f"{ds.name}: train images {ds.x_train.shape[1:]} and test images "
                    f"{ds.x_test.shape[1:]} differ in shape.")


def _make(name: str, arrays: dict[str, np.ndarray], provenance: str) -> Dataset:
  """Normalise layout (add a channel axis to MNIST) and dtypes, then validate.

  Labels are range-checked in the dtype they were read in, then cast to ``int32``.
  """
  out = {}
  for split in ("train", "test"):
    x, y = np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"])
    if x.ndim == 3:
      x = x[..., None]
    if x.dtype != np.uint8:
      raise DataError(f"{name}: x_{split} in {provenance} has dtype {x.dtype}, expected uint8.")
    if x.shape[1:] != IMAGE_SHAPE[name]:
      raise DataError(f"{name}: x_{split} in {provenance} has image shape {x.shape[1:]}, "
                      f"expected {IMAGE_SHAPE[name]}.")
    if not np.issubdtype(y.dtype, np.integer):  # floats, bools, object arrays of huge ints
      raise DataError(f"{name}: y_{split} in {provenance} has dtype {y.dtype}, expected integers.")
    y = y.reshape(-1)
    _check_label_values(y, NUM_CLASSES[name], f"{name}: y_{split} in {provenance}")  # before the int32 cast
    out[f"x_{split}"] = np.ascontiguousarray(x)
    out[f"y_{split}"] = y.astype(np.int32)
  return Dataset(name=name, num_classes=NUM_CLASSES[name], provenance=provenance, **out)


def load(name: str, *, source: str = "sample", data_dir: str | os.PathLike | None = None) -> Dataset:
  """Loads CIFAR-10 or MNIST (the paper's datasets, Sections 2 and 5).

  Args:
    name: ``"cifar10"`` or ``"mnist"``.
    source: ``"sample"`` (embedded, default), ``"files"`` or ``"tfds"``.
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
  ref = importlib.resources.files("rethink_jax") / "sample_data" / f"{name}_sample.npz"
  with importlib.resources.as_file(ref) as path:
    if not path.exists():
      raise DataError(f"The embedded sample {path} is missing; reinstall rethink-jax.")
    return _load_npz(name, path, provenance=f"rethink_jax embedded {name} sample (lossless)")


def _load_npz(name: str, path: pathlib.Path, provenance: str | None = None) -> Dataset:
  try:
    with np.load(path, allow_pickle=False) as f:
      missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
      if missing:
        raise DataError(f"{path} lacks the arrays {sorted(missing)}; an .npz for {name} must "
                        "hold x_train, y_train, x_test, y_test.")
      arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
  except DataError:
    raise
  except Exception as e:  # zipfile/zlib/pickle errors for a truncated or corrupt file
    raise DataError(f"Could not read {path}: {type(e).__name__}: {e}. The file is corrupt or "
                    "truncated; delete it and fetch it again.") from e
  return _make(name, arrays, provenance or f"npz file {path}")


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
    if name == "cifar10":
      batches, tarball = d / "cifar-10-batches-py", d / "cifar-10-python.tar.gz"
      looked += [str(batches) + "/", str(tarball)]
      if batches.is_dir():
        return _cifar_from_dir(batches)
      if tarball.is_file():
        return _cifar_from_tar(tarball)
    else:
      found = _find_idx(d)
      looked += [str(d / f) + "[.gz]" for f in _MNIST_IDX.values()]
      if found is not None:
        return _mnist_from_idx(found)
  base, files = REMOTE_FILES[name]
  raise DataError(
      f"No {name} files found. Looked for:\n  " + "\n  ".join(looked) +
      f"\nGet them from {base} ({', '.join(f for f, _ in files)}) or run "
      f"rethink_jax.data.download({name!r}, {str(data_dir)!r}).")


_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)


def _cifar_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
  try:
    d = pickle.loads(raw, encoding="bytes")
    data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"])
  except Exception as e:
    raise DataError(f"Could not unpickle CIFAR-10 batch {where}: {type(e).__name__}: {e}. The file "
                    "is corrupt or truncated; delete it and download the archive again.") from e
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
    raise DataError(f"CIFAR-10 batch {where} has data {data.shape} {data.dtype} and {len(labels)} "
                    "labels; expected [N, 3072] uint8 and N labels.")
  # Rows hold 1024 red, 1024 green, 1024 blue values: CHW; the library is NHWC.
  return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar_assemble(read: dict[str, bytes], provenance: str) -> Dataset:
  parts = {s: [_cifar_batch(read[f], f"{provenance}/{f}") for f in files]
           for s, files in (("train", _CIFAR_TRAIN), ("test", _CIFAR_TEST))}
  arrays = {}
  for s, batches in parts.items():
    arrays[f"x_{s}"] = np.concatenate([b[0] for b in batches])
    arrays[f"y_{s}"] = np.concatenate([b[1] for b in batches])
  return _make("cifar10", arrays, provenance)


def _cifar_from_dir(path: pathlib.Path) -> Dataset:
  missing = [f for f in _CIFAR_TRAIN + _CIFAR_TEST if not (path / f).is_file()]
  if missing:
    raise DataError(f"{path} lacks {missing}; the CIFAR-10 python version has data_batch_1..5 and "
                    "test_batch. Extract cifar-10-python.tar.gz again.")
  return _cifar_assemble({f: (path / f).read_bytes() for f in _CIFAR_TRAIN + _CIFAR_TEST},
                         f"CIFAR-10 python batches {path}")


def _cifar_from_tar(path: pathlib.Path) -> Dataset:
  read: dict[str, bytes] = {}
  try:
    with tarfile.open(path, "r:*") as tar:
      for member in tar:
        base = member.name.rsplit("/", 1)[-1]
        if member.isfile() and base in _CIFAR_TRAIN + _CIFAR_TEST:
          read[base] = tar.extractfile(member).read()
  except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as e:
    raise DataError(f"Could not read {path}: {type(e).__name__}: {e}. The archive is corrupt or "
                    "truncated; delete it and download it again.") from e
  missing = [f for f in _CIFAR_TRAIN + _CIFAR_TEST if f not in read]
  if missing:
    raise DataError(f"{path} lacks {missing}; is it the CIFAR-10 *python* version?")
  return _cifar_assemble(read, f"CIFAR-10 python archive {path}")


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
    raise DataError(f"{d} holds only some MNIST idx files; missing {missing} (.gz or not).")
  return found


def _read_idx(path: pathlib.Path) -> np.ndarray:
  """Reads one idx file (the format of LeCun's MNIST files), gzipped or not."""
  try:
    with open(path, "rb") as f:
      raw = f.read()
    if raw[:2] == b"\x1f\x8b":
      raw = gzip.decompress(raw)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise DataError(f"Could not read {path}: {type(e).__name__}: {e}. The file is corrupt or "
                    "truncated; delete it and download it again.") from e
  if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
    raise DataError(f"{path} is not an unsigned-byte idx file (bad magic number {raw[:4]!r}).")
  ndim = raw[3]
  dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
  body = raw[4 + 4 * ndim:]
  if len(body) != int(np.prod(dims)):
    raise DataError(f"{path} is truncated: header says {dims} ({int(np.prod(dims))} bytes) but "
                    f"{len(body)} bytes follow. Download it again.")
  return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _mnist_from_idx(found: dict[str, pathlib.Path]) -> Dataset:
  arrays = {k: _read_idx(p) for k, p in found.items()}
  return _make("mnist", arrays, f"MNIST idx files in {found['x_train'].parent}")


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
          f"Could not read TFDS {name!r} with tfds.data_source ({type(first).__name__}: {first}). "
          f"Prepare it with `tfds build {name} --file_format=array_record` (no TensorFlow needed "
          "to read it), or `pip install rethink-jax[tfds]` to read TFRecord datasets.") from first
    try:
      splits = tfds.as_numpy(tfds.load(name, split=["train", "test"], batch_size=-1, **kwargs))
    except Exception as e:
      raise DataError(f"TFDS {name!r} is not prepared in {data_dir or 'the default TFDS dir'}: "
                      f"{e}. Prepare it with `tfds build {name}`.") from e
    arrays = {}
    for split, d in zip(("train", "test"), splits):
      arrays[f"x_{split}"], arrays[f"y_{split}"] = d["image"], d["label"]
    return _make(name, arrays, f"tfds {name} (tf.data) in {data_dir or 'default TFDS dir'}")
  # Validated outside the try: bad labels or shapes are a DataError of their own, not a
  # reason to fall back to tf.data.
  return _make(name, arrays, f"tfds {name} (data_source) in {data_dir or 'default TFDS dir'}")


# ----------------------------------------------------------------------------- download

def _md5(path: pathlib.Path) -> str:
  h = hashlib.md5()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def download(name: str, data_dir: str | os.PathLike, *, base_url: str | None = None,
             progress: bool = True, timeout: float = 60.0) -> pathlib.Path:
  """Fetches the official files that ``load(name, source="files")`` reads.

  Each file's MD5 is checked against the published checksum in :data:`REMOTE_FILES`.
  A file is written under a temporary name and renamed only when complete and verified,
  so an interrupted download never leaves a file that looks finished. Files already
  present with the right checksum are not fetched again.

  Args:
    name: ``"cifar10"`` (the python-version tarball, 163 MB) or ``"mnist"`` (four idx files).
    data_dir: where to put the files; created if needed.
    base_url: a mirror with the same file names (default: the official location).
    progress: show a tqdm progress bar.
    timeout: seconds to wait for the server.

  Returns:
    ``data_dir`` as a path.

  Raises:
    DataError: unknown name, no network, an HTTP error, or a checksum that differs.
  """
  if name not in REMOTE_FILES:
    raise DataError(f"Unknown dataset {name!r}; download() knows {tuple(REMOTE_FILES)}.")
  default_base, files = REMOTE_FILES[name]
  base = base_url or default_base
  out = pathlib.Path(data_dir).expanduser()
  out.mkdir(parents=True, exist_ok=True)
  for filename, md5 in files:
    target = out / filename
    if target.is_file() and _md5(target) == md5:
      continue
    url = base.rstrip("/") + "/" + filename
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=out)
    try:
      with os.fdopen(fd, "wb") as f:
        _fetch(url, f, progress=progress, timeout=timeout)
      got = _md5(pathlib.Path(tmp))
      if got != md5:
        raise DataError(f"Checksum mismatch for {url}: got MD5 {got}, expected {md5}. The file was "
                        "not kept; the mirror may be corrupt or the download was altered.")
      os.replace(tmp, target)
    finally:
      if os.path.exists(tmp):
        os.unlink(tmp)
  return out


def _fetch(url: str, f, *, progress: bool, timeout: float) -> None:
  from tqdm.auto import tqdm

  try:
    with urllib.request.urlopen(url, timeout=timeout) as r:
      total = int(r.headers.get("Content-Length") or 0) or None
      with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                disable=not progress) as bar:
        for block in iter(lambda: r.read(1 << 20), b""):
          f.write(block)
          bar.update(len(block))
  except urllib.error.HTTPError as e:
    raise DataError(f"Downloading {url} failed with HTTP {e.code} {e.reason}.") from e
  except (urllib.error.URLError, OSError) as e:
    raise DataError(f"Could not reach {url} ({e}). Are you offline? Fetch the files by other "
                    "means and use load(..., source='files', data_dir=...).") from e
