import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import pathlib
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest

from rethink_jax import data
from rethink_jax.data import DataError

RNG = np.random.default_rng(0)


# --------------------------------------------------------------- tiny canonical files

def _cifar_batch_bytes(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
  y = rng.integers(0, 10, n)
  # Canonical layout: rows of 3072 bytes, 1024 R then 1024 G then 1024 B; labels a list.
  blob = {b"batch_label": b"x", b"labels": [int(v) for v in y],
          b"data": x.transpose(0, 3, 1, 2).reshape(n, 3072), b"filenames": [b"f"] * n}
  return pickle.dumps(blob, protocol=2), x, y


def write_cifar(tmp_path, as_tar: bool):
  files, xs, ys = {}, {"train": [], "test": []}, {"train": [], "test": []}
  for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
    raw, x, y = _cifar_batch_bytes(3, seed=i)
    files[name] = raw
    split = "test" if name == "test_batch" else "train"
    xs[split].append(x)
    ys[split].append(y)
  if as_tar:
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
      for name, raw in files.items():
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
  else:
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for name, raw in files.items():
      (d / name).write_bytes(raw)
  return {k: np.concatenate(v) for k, v in xs.items()}, {k: np.concatenate(v) for k, v in ys.items()}


def _cifar100_pickle_bytes(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
  """One pickle of the CIFAR-100 python version (``train`` or ``test``): fine and coarse labels."""
  rng = np.random.default_rng(100 + seed)
  x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
  fine = rng.integers(0, 100, n)
  fine[:2] = (99, 10 + seed)  # classes a 10-class reader would refuse
  blob = {b"filenames": [f"img_{i}.png".encode() for i in range(n)], b"batch_label": b"training batch 1 of 1",
          b"fine_labels": [int(v) for v in fine], b"coarse_labels": [int(v) // 5 for v in fine],
          b"data": x.transpose(0, 3, 1, 2).reshape(n, 3072)}
  return pickle.dumps(blob, protocol=2), x, fine


def _cifar100_meta_bytes() -> bytes:
  return pickle.dumps({b"fine_label_names": [c.encode() for c in data.CLASS_NAMES["cifar100"]],
                       b"coarse_label_names": [f"superclass_{i}".encode() for i in range(20)]}, protocol=2)


def write_cifar100(d, layout: str, n_train=6, n_test=4, skip=(), cut_member=None):
  """The CIFAR-100 python version in ``d``, as published: ``layout`` ``"tar"``
  (``cifar-100-python.tar.gz``), ``"folder"`` (the extracted ``cifar-100-python/``) or ``"npz"``
  (``cifar100.npz``). Returns ``(arrays, the file or folder written)``."""
  (train, x_train, y_train), (test, x_test, y_test) = (_cifar100_pickle_bytes(n_train, 0),
                                                       _cifar100_pickle_bytes(n_test, 1))
  arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
  files = {"meta": _cifar100_meta_bytes(), "train": train, "test": test, "file.txt~": b""}
  files = {k: (v[:50] if k == cut_member else v) for k, v in files.items() if k not in skip}
  if layout == "tar":
    path = d / "cifar-100-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
      for name, raw in files.items():
        info = tarfile.TarInfo(f"cifar-100-python/{name}")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
  elif layout == "folder":
    path = d / "cifar-100-python"
    path.mkdir()
    for name, raw in files.items():
      (path / name).write_bytes(raw)
  else:
    path = d / "cifar100.npz"
    np.savez(path, **arrays)
  return arrays, path


def _idx_bytes(a: np.ndarray) -> bytes:
  return struct.pack(">BBBB", 0, 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_mnist(d, gz: bool, n_train=7, n_test=4):
  arrays = {"x_train": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": RNG.integers(0, 10, n_train).astype(np.uint8),
            "x_test": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": RNG.integers(0, 10, n_test).astype(np.uint8)}
  names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
           "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
  for k, a in arrays.items():
    raw = _idx_bytes(a)
    if gz:
      (d / f"{names[k]}.gz").write_bytes(gzip.compress(raw))
    else:
      (d / names[k]).write_bytes(raw)
  return arrays, names


# --------------------------------------------------------------- sample

@pytest.mark.parametrize("name,shape,n", [("cifar10", (32, 32, 3), (2000, 500)), ("mnist", (28, 28, 1), (5000, 1000))])
def test_sample_loads_real_data(name, shape, n):
  ds = data.load(name)
  assert ds.x_train.shape == (n[0], *shape) and ds.x_test.shape == (n[1], *shape)
  assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int32
  assert ds.num_classes == 10 and "sample" in ds.provenance
  assert set(np.unique(ds.y_train)) == set(range(10))
  assert 20 < ds.x_train.mean() < 140  # real images, not blanks or noise


def test_sample_first_labels_are_canonical():
  # canonical first labels: CIFAR-10 train 6 9 9 4 1 1 2 7 8 3; MNIST train 5 0 4 1 9 2 1 3 1 4
  np.testing.assert_array_equal(data.load("cifar10").y_train[:10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3])
  np.testing.assert_array_equal(data.load("mnist").y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
  np.testing.assert_array_equal(data.load("mnist").y_test[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


def test_sample_is_what_the_build_script_documents(shared_data):
  sub = np.load(shared_data("cifar10_lossless_subset.npz"))
  ds = data.load("cifar10")
  np.testing.assert_array_equal(ds.x_train, sub["x_train"][:2000])
  np.testing.assert_array_equal(ds.x_test, sub["x_train"][2000:2500])
  np.testing.assert_array_equal(ds.y_test, sub["y_train_full_canonical"][2000:2500])


# --------------------------------------------------------------- files

@pytest.mark.parametrize("as_tar", [True, False])
def test_cifar_python_version(tmp_path, as_tar):
  x, y = write_cifar(tmp_path, as_tar)
  ds = data.load("cifar10", source="files", data_dir=tmp_path)
  np.testing.assert_array_equal(ds.x_train, x["train"])
  np.testing.assert_array_equal(ds.y_train, y["train"])
  np.testing.assert_array_equal(ds.x_test, x["test"])
  np.testing.assert_array_equal(ds.y_test, y["test"])
  assert ds.provenance.startswith("cifar-10-python.tar.gz (CIFAR-10, 15 train + 3 test images; sha256 " if as_tar
                                  else "cifar-10-batches-py (CIFAR-10, 15 train + 3 test images; sha256 ")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_files(tmp_path, gz):
  arrays, _ = write_mnist(tmp_path, gz)
  ds = data.load("mnist", source="files", data_dir=tmp_path)
  np.testing.assert_array_equal(ds.x_train[..., 0], arrays["x_train"])
  np.testing.assert_array_equal(ds.y_test, arrays["y_test"])


def test_npz_file_and_env_var_and_subdir(tmp_path, monkeypatch):
  sub = tmp_path / "mnist"
  sub.mkdir()
  arrays = {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.array([0, 1, 9], np.uint8),
            "x_test": np.ones((2, 28, 28), np.uint8), "y_test": np.array([3, 4])}
  np.savez(sub / "mnist.npz", **arrays)
  monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
  ds = data.load("mnist", source="files")
  np.testing.assert_array_equal(ds.y_train, [0, 1, 9])
  assert ds.x_test.shape == (2, 28, 28, 1)


@pytest.mark.slow
def test_shared_full_files(shared_data):
  ds = data.load("mnist", source="files", data_dir=shared_data("mnist.npz").parent)
  assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
  assert abs(ds.x_train.mean() - 33.3184) < 1e-3
  c = data.load("cifar10", source="files", data_dir=shared_data("cifar10.npz").parent)
  assert c.x_train.shape == (50000, 32, 32, 3) and np.bincount(c.y_train).tolist() == [5000] * 10
  # The fingerprint is the convention of ../shared/data/README.txt: sha256 of each array's raw bytes.
  assert ds.provenance == ("mnist.npz (MNIST, 60,000 train + 10,000 test images; sha256 "
                           "741c988805d008ac:1feba77c54802fa5:6d87418db22cc802:ddeff807876a9661)")
  assert c.provenance == ("cifar10.npz (CIFAR-10, 50,000 train + 10,000 test images; sha256 "
                          "5aaf8a2cf2e577ff:2b7cd2f244873176:b7018a062865e934:cec8a24a1e92aa2e)")
  from rethink_jax.report import _data_label
  assert _data_label(c.provenance + " | corrupted: random_labels") == "CIFAR-10 full"


# --------------------------------------------------------------- bad input

def test_unknown_name_and_source():
  with pytest.raises(DataError, match="Unknown dataset 'svhn'"):
    data.load("svhn")
  with pytest.raises(DataError, match="Unknown source 'hub'"):
    data.load("cifar10", source="hub")


def test_missing_dir_and_files_say_what_to_do(tmp_path, monkeypatch):
  monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
  with pytest.raises(DataError, match="RETHINK_JAX_DATA"):
    data.load("cifar10", source="files")
  with pytest.raises(DataError, match="does not exist"):
    data.load("cifar10", source="files", data_dir=tmp_path / "nope")
  with pytest.raises(DataError, match=r"(?s)cifar-10-python\.tar\.gz.*download\("):
    data.load("cifar10", source="files", data_dir=tmp_path)
  with pytest.raises(DataError, match="train-images-idx3-ubyte"):
    data.load("mnist", source="files", data_dir=tmp_path)


def test_truncated_archives_and_files(tmp_path):
  write_cifar(tmp_path, as_tar=True)
  tar = tmp_path / "cifar-10-python.tar.gz"
  tar.write_bytes(tar.read_bytes()[: len(tar.read_bytes()) // 2])
  with pytest.raises(DataError, match="truncated"):
    data.load("cifar10", source="files", data_dir=tmp_path)

  d = tmp_path / "m"
  d.mkdir()
  write_mnist(d, gz=False)
  f = d / "train-images-idx3-ubyte"
  f.write_bytes(f.read_bytes()[:-10])
  with pytest.raises(DataError, match="truncated"):
    data.load("mnist", source="files", data_dir=d)
  (d / "t10k-labels-idx1-ubyte").unlink()
  with pytest.raises(DataError, match="only some MNIST"):
    data.load("mnist", source="files", data_dir=d)

  bad = tmp_path / "b"
  bad.mkdir()
  (bad / "cifar10.npz").write_bytes(b"PK\x03\x04 not really a zip")
  with pytest.raises(DataError, match="corrupt or truncated"):
    data.load("cifar10", source="files", data_dir=bad)


def test_corrupt_cifar_pickle(tmp_path):
  write_cifar(tmp_path, as_tar=False)
  (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"garbage")
  with pytest.raises(DataError, match="data_batch_3"):
    data.load("cifar10", source="files", data_dir=tmp_path)


def test_wrong_shapes_dtypes_and_labels(tmp_path):
  base = {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.array([0, 1, 2]),
          "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.array([0, 1])}
  cases = [({"x_train": np.zeros((3, 32, 32), np.uint8)}, "image shape"),
           ({"x_train": np.zeros((3, 28, 28), np.float32)}, "dtype float32"),
           ({"y_train": np.array([0, 1, 10])}, r"labels must lie in \[0, 10\)"),
           ({"y_train": np.array([0, 1])}, "3 images but 2 labels"),
           ({"y_test": np.array([0.5, 1.0])}, "expected integers")]
  for i, (change, msg) in enumerate(cases):
    d = tmp_path / str(i)
    d.mkdir()
    np.savez(d / "mnist.npz", **{**base, **change})
    with pytest.raises(DataError, match=msg):
      data.load("mnist", source="files", data_dir=d)
  np.savez(tmp_path / "mnist.npz", x_train=base["x_train"])
  with pytest.raises(DataError, match="lacks the arrays"):
    data.load("mnist", source="files", data_dir=tmp_path)


# --------------------------------------------------------------- empty, truncated and corrupt files
# Each is one DataError naming the file and saying what is wrong and what to do; never a struct,
# zipfile, pickle, gzip, zlib, EOF or numpy error.

def _npz(d, name="mnist", **change):
  """A real small .npz for ``name`` in ``d`` (``change``: arrays to replace; None drops one)."""
  shape = (28, 28) if name == "mnist" else (32, 32, 3)
  rng = np.random.default_rng(1)
  a = {"x_train": rng.integers(0, 256, (20, *shape), dtype=np.uint8), "y_train": np.arange(20, dtype=np.uint8) % 10,
       "x_test": rng.integers(0, 256, (5, *shape), dtype=np.uint8), "y_test": np.arange(5, dtype=np.uint8)}
  a.update(change)
  path = d / f"{name}.npz"
  np.savez_compressed(path, **{k: v for k, v in a.items() if v is not None})
  return path


def _truncate(path, keep):
  """Keeps the first ``keep`` bytes (negative: drops that many from the end; a float: that fraction)."""
  raw = path.read_bytes()
  n = int(len(raw) * keep) if isinstance(keep, float) else keep
  path.write_bytes(raw[:n])
  return path


def _clobber(path, at, n):
  raw = path.read_bytes()
  path.write_bytes(raw[:at] + bytes(n) + raw[at + n:])
  return path


def _write(path, raw):
  path.write_bytes(raw)
  return path


def _tar(d, skip=(), cut_member=None):
  """The CIFAR-10 python archive (6 tiny batches); ``skip`` leaves batches out, ``cut_member`` cuts one."""
  path = d / "cifar-10-python.tar.gz"
  with tarfile.open(path, "w:gz") as tar:
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
      raw = _cifar_batch_bytes(3, seed=i)[0]
      if name in skip:
        continue
      raw = raw[:50] if name == cut_member else raw
      info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
      info.size = len(raw)
      tar.addfile(info, io.BytesIO(raw))
  return path


def _batch(d, name):
  write_cifar(d, as_tar=False)
  return d / "cifar-10-batches-py" / name


def _npy_as_npz(d):
  np.save(d / "mnist.npy", np.zeros(3))
  return (d / "mnist.npy").rename(d / "mnist.npz")


_IDX = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte"}


def _idx(d, key="x_train", gz=False):
  write_mnist(d, gz=gz)
  return d / (_IDX[key] + (".gz" if gz else ""))


def _c100(d, layout="tar", **kw):
  return write_cifar100(d, layout, **kw)[1]


def _c100_file(d, name):
  return _c100(d, "folder") / name


def _idx_count_mismatch(d):
  write_mnist(d, gz=False)
  _write(d / _IDX["y_train"], _idx_bytes(np.zeros(6, np.uint8)))
  return d / _IDX["x_train"]  # names both: 7 images in one file, 6 labels in the other


BROKEN = [  # (id, dataset, make(d) -> the broken file, what the message must say besides its path)
    ("npz-empty", "mnist", lambda d: _truncate(_npz(d), 0), r"is empty \(0 bytes\).*fetch it again"),
    ("npz-cut-in-header", "mnist", lambda d: _truncate(_npz(d), 10), "corrupt or truncated; delete it"),
    ("npz-cut-in-half", "mnist", lambda d: _truncate(_npz(d), 0.5), "corrupt or truncated"),
    ("npz-last-byte-cut", "cifar10", lambda d: _truncate(_npz(d, "cifar10"), -1), "corrupt or truncated"),
    ("npz-not-a-zip", "mnist", lambda d: _write(d / "mnist.npz", b"hello world" * 10), r"is not an \.npz file"),
    ("npz-bad-deflate", "mnist", lambda d: _clobber(_npz(d), 200, 60), "corrupt or truncated"),
    ("npz-missing-array", "mnist", lambda d: _npz(d, y_test=None), r"lacks the arrays \['y_test'\]"),
    ("npz-one-npy-array", "mnist", _npy_as_npz, "holds a single array, not an .npz"),
    ("npz-object-array", "mnist", lambda d: _npz(d, y_test=np.array([1, None], object)), "Python objects"),
    ("npz-image-shape", "cifar10", lambda d: _npz(d, "cifar10", x_test=np.zeros((5, 28, 28), np.uint8)),
     r"x_test in .* has image shape \(28, 28, 1\) \(array shape \(5, 28, 28\)\), expected \[N, 32, 32, 3\]"),
    ("npz-label-shape", "mnist", lambda d: _npz(d, y_train=np.zeros((20, 2), np.uint8)),
     r"y_train in .* has shape \(20, 2\), expected \[N\] labels"),
    ("npz-label-count", "mnist", lambda d: _npz(d, y_train=np.zeros(19, np.uint8)),
     "holds 20 images but 19 labels in the train split"),
    ("npz-no-test-images", "mnist", lambda d: _npz(d, x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, int)),
     "holds no test images"),
    ("tar-empty", "cifar10", lambda d: _truncate(_tar(d), 0), r"is empty \(0 bytes\).*download it again"),
    ("tar-cut-early", "cifar10", lambda d: _truncate(_tar(d), 100), r"truncated \(it ends early\); delete it"),
    ("tar-cut-in-half", "cifar10", lambda d: _truncate(_tar(d), 0.5), r"truncated \(it ends early\)"),
    ("tar-gzip-trailer-cut", "cifar10", lambda d: _truncate(_tar(d), -8), r"truncated \(it ends early\)"),
    ("tar-bad-deflate", "cifar10", lambda d: _clobber(_tar(d), 100, 40), "corrupt or truncated; delete it"),
    ("tar-not-an-archive", "cifar10", lambda d: _write(d / "cifar-10-python.tar.gz", b"x" * 1000),
     "not a gzip or tar archive"),
    ("tar-missing-batch", "cifar10", lambda d: _tar(d, skip=("test_batch",)),
     r"lacks \['test_batch'\]: it is truncated, or not the CIFAR-10 \*python\* version"),
    ("tar-member-cut", "cifar10", lambda d: _tar(d, cut_member="data_batch_2"),
     r"batch data_batch_2 in .*\(50 bytes\): UnpicklingError: .* corrupt or truncated"),
    ("batch-empty", "cifar10", lambda d: _truncate(_batch(d, "data_batch_1"), 0), r"is empty \(0 bytes\)"),
    ("batch-cut", "cifar10", lambda d: _truncate(_batch(d, "test_batch"), 0.5), "corrupt or truncated; extract"),
    ("batch-garbage", "cifar10", lambda d: _write(_batch(d, "data_batch_3"), b"garbage"), "Could not unpickle"),
    ("batch-not-a-dict", "cifar10", lambda d: _write(_batch(d, "data_batch_4"), pickle.dumps([1, 2])),
     "holds a list, not the dict of a CIFAR-10 python batch"),
    ("batch-missing-keys", "cifar10", lambda d: _write(_batch(d, "data_batch_5"), pickle.dumps({b"labels": [1]})),
     r"lacks the keys \['data'\] \(it has \['labels'\]\)"),
    ("batch-data-shape", "cifar10",
     lambda d: _write(_batch(d, "data_batch_2"), pickle.dumps({b"data": np.zeros((2, 3000), np.uint8),
                                                                b"labels": [1, 2]})),
     r"has data \(2, 3000\) uint8 .*expected \[N, 3072\] uint8"),
    ("batch-label-count", "cifar10",
     lambda d: _write(_batch(d, "data_batch_2"), pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                                                b"labels": [1]})),
     r"and labels \(1,\); expected \[N, 3072\] uint8 and N labels"),
    ("c100-tar-empty", "cifar100", lambda d: _truncate(_c100(d), 0), r"is empty \(0 bytes\).*download it again"),
    ("c100-tar-cut-early", "cifar100", lambda d: _truncate(_c100(d), 100), r"truncated \(it ends early\); delete it"),
    ("c100-tar-cut-in-half", "cifar100", lambda d: _truncate(_c100(d), 0.5), r"truncated \(it ends early\)"),
    ("c100-tar-gzip-trailer-cut", "cifar100", lambda d: _truncate(_c100(d), -8), r"truncated \(it ends early\)"),
    ("c100-tar-bad-deflate", "cifar100", lambda d: _clobber(_c100(d), 100, 40), "corrupt or truncated; delete it"),
    ("c100-tar-not-an-archive", "cifar100", lambda d: _write(d / "cifar-100-python.tar.gz", b"x" * 1000),
     "not a gzip or tar archive"),
    ("c100-tar-missing-test", "cifar100", lambda d: _c100(d, skip=("test",)),
     r"lacks \['test'\]: it is truncated, or not the CIFAR-100 \*python\* version \(cifar-100-python\.tar\.gz\)"),
    ("c100-tar-member-cut", "cifar100", lambda d: _c100(d, cut_member="train"),
     r"CIFAR-100 file train in .*\(50 bytes\): UnpicklingError: .* corrupt or truncated; delete it"),
    ("c100-folder-missing-train", "cifar100", lambda d: _c100(d, "folder", skip=("train",)),
     r"lacks \['train'\]; the CIFAR-100 python version has train and test\. Extract cifar-100-python\.tar\.gz"),
    ("c100-file-empty", "cifar100", lambda d: _truncate(_c100_file(d, "train"), 0),
     r"CIFAR-100 file .* is empty \(0 bytes\); extract cifar-100-python\.tar\.gz again"),
    ("c100-file-cut", "cifar100", lambda d: _truncate(_c100_file(d, "test"), 0.5), "corrupt or truncated; extract"),
    ("c100-file-not-a-dict", "cifar100", lambda d: _write(_c100_file(d, "test"), pickle.dumps([1, 2])),
     "holds a list, not the dict of a CIFAR-100 python file"),
    ("c100-file-is-a-cifar10-batch", "cifar100",  # CIFAR-10's "labels", not CIFAR-100's "fine_labels"
     lambda d: _write(_c100_file(d, "train"), _cifar_batch_bytes(3, seed=0)[0]),
     r"lacks the keys \['fine_labels'\] \(it has \['batch_label', 'data', 'filenames', 'labels'\]\); it is not a "
     r"CIFAR-100 python file"),
    ("c100-file-data-shape", "cifar100",
     lambda d: _write(_c100_file(d, "train"), pickle.dumps({b"data": np.zeros((2, 3000), np.uint8),
                                                             b"fine_labels": [1, 2]})),
     r"has data \(2, 3000\) uint8 .*expected \[N, 3072\] uint8"),
    ("c100-npz-image-shape", "cifar100", lambda d: _npz(d, "cifar100", x_test=np.zeros((5, 28, 28), np.uint8)),
     r"x_test in .*cifar100\.npz has image shape \(28, 28, 1\) .*expected \[N, 32, 32, 3\]"),
    ("idx-empty", "mnist", lambda d: _truncate(_idx(d), 0), r"is empty \(0 bytes\).*download it again"),
    ("idx-cut-in-magic", "mnist", lambda d: _truncate(_idx(d), 2),
     "is truncated: 2 bytes, too short for an idx header"),
    ("idx-cut-in-header", "mnist", lambda d: _truncate(_idx(d), 6), r"is truncated inside its header \(6 bytes\)"),
    ("idx-cut-in-body", "mnist", lambda d: _truncate(_idx(d), 0.5),
     r"is truncated: its header says \(7, 28, 28\) \(5,488 bytes\) but 2,736 bytes follow; delete it and download"),
    ("idx-last-byte-cut", "mnist", lambda d: _truncate(_idx(d, "y_train"), -1), "is truncated: its header says"),
    ("idx-bytes-after-the-data", "mnist", lambda d: _write(_idx(d), _idx(d).read_bytes() + b"xx"),
     r"is corrupt: its header says \(7, 28, 28\) \(5,488 bytes\) but 5,490 bytes follow"),
    ("idx-wrong-magic", "mnist", lambda d: _write(_idx(d), b"\0\0\x09\x03" + _idx(d).read_bytes()[4:]),
     "not an MNIST unsigned-byte idx file of 3-D data: its magic number is 00 00 09 03, expected 00 00 08 03"),
    ("idx-labels-as-images", "mnist", lambda d: _write(_idx(d), _idx(d, "y_train").read_bytes()),
     "its magic number is 00 00 08 01, expected 00 00 08 03"),
    ("idx-image-size", "mnist", lambda d: _write(_idx(d), _idx_bytes(np.zeros((7, 27, 29), np.uint8))),
     r"holds images of \(27, 29\), not MNIST's 28x28"),
    ("idx-count-mismatch", "mnist", _idx_count_mismatch,
     "holds 7 images but .*train-labels-idx1-ubyte 6 labels: the files do not belong together"),
    ("idx.gz-empty", "mnist", lambda d: _truncate(_idx(d, gz=True), 0), r"is empty \(0 bytes\)"),
    ("idx.gz-cut-in-header", "mnist", lambda d: _truncate(_idx(d, gz=True), 2),
     "is truncated: its gzip stream ends early"),
    ("idx.gz-cut-in-half", "mnist", lambda d: _truncate(_idx(d, gz=True), 0.5),
     r"is truncated: its gzip stream ends early \(EOFError: .*\); delete it and download it again"),
    ("idx.gz-trailer-cut", "mnist", lambda d: _truncate(_idx(d, "y_train", gz=True), -1),
     "is truncated: its gzip stream ends early"),
    ("idx.gz-bad-deflate", "mnist", lambda d: _clobber(_idx(d, gz=True), 12, 40), "is not a readable gzip file"),
    ("idx.gz-bad-crc", "mnist", lambda d: _write(_idx(d, gz=True), _idx(d, gz=True).read_bytes()[:-8] + bytes(8)),
     r"is not a readable gzip file \(BadGzipFile: CRC check failed"),
]


@pytest.mark.parametrize("name,make,what", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_broken_file_is_one_data_error_naming_it(tmp_path, name, make, what):
  path = make(tmp_path)
  with pytest.raises(DataError, match=re.escape(str(path))) as e:
    data.load(name, source="files", data_dir=tmp_path)
  message = str(e.value)
  assert type(e.value) is DataError and "\n" not in message, message
  assert re.search(what, message), message


def _good_file(kind, d):
  """(dataset, the file) for one complete small file of each format."""
  if kind == "npz":
    return "mnist", _npz(d)
  if kind == "tar.gz":
    return "cifar10", _tar(d)
  if kind == "batch":
    return "cifar10", _batch(d, "data_batch_1")
  if kind == "cifar100 tar.gz":
    return "cifar100", _c100(d)
  if kind == "cifar100 file":
    return "cifar100", _c100_file(d, "train")
  return "mnist", _idx(d, gz=kind == "idx.gz")


@pytest.mark.parametrize("kind", ["npz", "tar.gz", "batch", "idx", "idx.gz", "cifar100 tar.gz", "cifar100 file"])
def test_a_file_cut_anywhere_is_one_data_error_naming_it(tmp_path, kind):
  name, path = _good_file(kind, tmp_path)
  raw = path.read_bytes()
  assert data.load(name, source="files", data_dir=tmp_path)  # whole, it loads
  for n in sorted({*np.linspace(0, len(raw) - 1, 60).astype(int).tolist(), 1, 2, 3, 4, len(raw) - 2}):
    path.write_bytes(raw[:n])
    with pytest.raises(DataError, match=re.escape(str(path))) as e:
      data.load(name, source="files", data_dir=tmp_path)
    assert type(e.value) is DataError and "\n" not in str(e.value), (n, str(e.value))


def test_no_files_found_is_one_line(tmp_path):
  for name in data.NAMES:
    with pytest.raises(DataError) as e:
      data.load(name, source="files", data_dir=tmp_path)
    assert "\n" not in str(e.value) and str(tmp_path / f"{name}.npz") in str(e.value)


def test_a_truncated_npz_on_the_command_line_is_one_line_exit_2_and_writes_nothing(tmp_path):
  d = tmp_path / "data"
  d.mkdir()
  _truncate(_npz(d, "cifar10"), 0.5)
  repo = pathlib.Path(__file__).resolve().parents[1]
  out = subprocess.run([sys.executable, str(repo / "experiments" / "random_labels.py"), "--config.data.source=files",
                        f"--config.data.data_dir={d}", "--workdir", str(tmp_path / "W")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(repo)))
  assert out.returncode == 2, out.stderr[-2000:]
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and str(d / "cifar10.npz") in lines[0], out.stderr
  assert "corrupt or truncated" in lines[0]
  assert not (tmp_path / "W").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# --------------------------------------------------------------- download

@contextlib.contextmanager
def serve(directory):
  handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
  handler.log_message = lambda *a, **k: None
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}/"
  finally:
    server.shutdown()
    server.server_close()


def test_download_verifies_checksums_and_writes_atomically(tmp_path, monkeypatch):
  remote = tmp_path / "remote"
  remote.mkdir()
  arrays, names = write_mnist(remote, gz=True)
  md5 = {f: hashlib.md5((remote / f).read_bytes()).hexdigest() for f in os.listdir(remote)}
  out = tmp_path / "out"
  with serve(remote) as url:
    # The published checksums do not match the tiny files: nothing may be kept.
    with pytest.raises(DataError, match="Checksum mismatch"):
      data.download("mnist", out, base_url=url, progress=False)
    assert not any(out.iterdir()), list(out.iterdir())
    # With checksums of the served files, every file lands complete and loads.
    files = tuple((f, md5[f]) for f, _ in data.REMOTE_FILES["mnist"][1])
    monkeypatch.setitem(data.REMOTE_FILES, "mnist", (url, files))
    data.download("mnist", out, progress=False)
  assert sorted(os.listdir(out)) == sorted(f for f, _ in files)
  ds = data.load("mnist", source="files", data_dir=out)
  np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
  # A second call finds verified files and does not touch the network (no server now).
  data.download("mnist", out, progress=False)


def test_download_missing_file_and_offline(tmp_path):
  with serve(tmp_path) as url:
    with pytest.raises(DataError, match="HTTP 404"):
      data.download("cifar10", tmp_path / "out", base_url=url, progress=False)
  with pytest.raises(DataError, match="Are you offline"):
    data.download("mnist", tmp_path / "out", base_url=url, progress=False, timeout=5)
  with pytest.raises(DataError, match="Unknown dataset"):
    data.download("imagenet", tmp_path)


@contextlib.contextmanager
def serve_handler(handler):
  handler.log_message = lambda *a, **k: None
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}/"
  finally:
    server.shutdown()
    server.server_close()


class _CutShort(http.server.BaseHTTPRequestHandler):
  """Promises 100,000 bytes and sends 10, then closes: a download cut short."""

  def do_GET(self):  # noqa: N802
    self.send_response(200)
    self.send_header("Content-Length", "100000")
    self.end_headers()
    self.wfile.write(b"0123456789")


def test_download_cut_short_keeps_nothing_and_says_so(tmp_path):
  out = tmp_path / "out"
  with serve_handler(_CutShort) as url:
    with pytest.raises(DataError, match=r"was cut short: 10 of 100,000 bytes; nothing was kept\. Run download\(\) "
                                        r"again\.") as e:
      data.download("mnist", out, base_url=url, progress=False)
  assert "\n" not in str(e.value) and not any(out.iterdir()), list(out.iterdir())


def test_download_replaces_a_truncated_or_empty_file_and_refuses_a_file_as_directory(tmp_path, monkeypatch):
  remote = tmp_path / "remote"
  remote.mkdir()
  arrays, _ = write_mnist(remote, gz=True)
  files = tuple((f, hashlib.md5((remote / f).read_bytes()).hexdigest()) for f, _ in data.REMOTE_FILES["mnist"][1])
  out = tmp_path / "out"
  with serve(remote) as url:
    monkeypatch.setitem(data.REMOTE_FILES, "mnist", (url, files))
    data.download("mnist", out, progress=False)
    _truncate(out / files[0][0], 0.5)
    _truncate(out / files[1][0], 0)
    with pytest.raises(DataError, match="gzip stream ends early"):
      data.load("mnist", source="files", data_dir=out)
    data.download("mnist", out, progress=False)  # the checksum check fetches both again
  np.testing.assert_array_equal(data.load("mnist", source="files", data_dir=out).y_train, arrays["y_train"])
  (tmp_path / "a_file").write_bytes(b"")
  with pytest.raises(DataError, match=re.escape(f"Could not create the data directory {tmp_path / 'a_file'}")):
    data.download("mnist", tmp_path / "a_file", progress=False)


# --------------------------------------------------------------- tfds

@pytest.mark.parametrize("name,shape", [("cifar10", (32, 32, 3)), ("mnist", (28, 28, 1)), ("cifar100", (32, 32, 3))])
def test_tfds_mocked(name, shape):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=6):
    ds = data.load(name, source="tfds")
  assert ds.x_train.shape == (6, *shape) and ds.x_train.dtype == np.uint8
  assert ds.num_classes == data.NUM_CLASSES[name]
  assert ds.y_train.dtype == np.int32 and ds.y_train.max() < data.NUM_CLASSES[name]
  assert "tfds" in ds.provenance


def test_tfds_not_prepared_says_how(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  with pytest.raises(DataError, match="tfds build cifar10"):
    data.load("cifar10", source="tfds", data_dir=tmp_path)


# --------------------------------------------------------------- label ranges, before the int32 cast

def test_npz_labels_are_range_checked_before_the_int32_cast(tmp_path):
  # int64 2**32 + 3 cast to int32 is 3: a valid class. It must be refused, naming file and value.
  arrays = {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.array([0, 2**32 + 3, 2], np.int64),
            "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.array([0, 1], np.int64)}
  np.savez(tmp_path / "mnist.npz", **arrays)
  with pytest.raises(DataError, match=r"mnist: y_train in npz file .*mnist\.npz: labels must lie in \[0, 10\) .*"
                                      r"got \[4294967299\] \(1 of 3 labels, dtype int64\)"):
    data.load("mnist", source="files", data_dir=tmp_path)
  np.savez(tmp_path / "mnist.npz", **{**arrays, "y_train": np.array([0, 1, 2**64 - 1], np.uint64)})
  with pytest.raises(DataError, match=r"got \[18446744073709551615\]"):  # int32 -1, were it cast first
    data.load("mnist", source="files", data_dir=tmp_path)


def test_cifar_pickle_labels_are_range_checked_before_the_int32_cast(tmp_path):
  write_cifar(tmp_path, as_tar=False)
  batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
  blob = pickle.loads(batch.read_bytes(), encoding="bytes")
  blob[b"labels"][1] = 2**32 + 3  # a Python int: numpy reads the list as int64
  batch.write_bytes(pickle.dumps(blob, protocol=2))
  with pytest.raises(DataError, match=r"cifar10: y_train in CIFAR-10 python batches .*cifar-10-batches-py: "
                                      r"labels must lie in \[0, 10\) .*got \[4294967299\]"):
    data.load("cifar10", source="files", data_dir=tmp_path)


def test_mnist_idx_labels_name_the_files_and_the_value(tmp_path):
  write_mnist(tmp_path, gz=False)
  labels = np.array([1, 200, 3], np.uint8)
  (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
  images = np.zeros((3, 28, 28), np.uint8)
  (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(images))
  with pytest.raises(DataError, match=rf"mnist: y_test in MNIST idx files in {re.escape(str(tmp_path))}: labels "
                                      r"must lie in \[0, 10\) .*got \[200\]"):
    data.load("mnist", source="files", data_dir=tmp_path)


def test_tfds_labels_are_range_checked_before_the_int32_cast(monkeypatch):
  import sys
  import types

  def data_source(name, split, **kwargs):
    label = np.int64(2**32 + 3) if split == "train" else np.int64(1)
    return [{"image": np.zeros((28, 28, 1), np.uint8), "label": label}, {"image": np.zeros((28, 28, 1), np.uint8),
                                                                         "label": np.int64(0)}]
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", types.SimpleNamespace(data_source=data_source))
  # a bad label is a DataError of its own, not a reason to fall back to tf.data
  with pytest.raises(DataError, match=r"mnist: y_train in tfds mnist \(data_source\).*got \[4294967299\]"):
    data.load("mnist", source="tfds")


def test_dataset_checks_num_classes_and_label_values_in_their_own_dtype():
  img = np.zeros((2, 2, 2, 1), np.uint8)
  ok = dict(name="toy", x_train=img, y_train=np.array([0, 1]), x_test=img, y_test=np.array([1, 0]), provenance="t")
  for k in (True, 0, 1, 2.0, 2**31):
    with pytest.raises(DataError, match=r"toy: num_classes must be an int in \[2, 2\*\*31 - 1\]"):
      data.Dataset(num_classes=k, **ok)
  with pytest.raises(DataError, match=r"toy: y_test: labels must lie in \[0, 2\) .*got \[1099511627776\]"):
    data.Dataset(num_classes=2, **{**ok, "y_test": np.array([1, 2**40])})
  with pytest.raises(DataError, match="1-D integer"):
    data.Dataset(num_classes=2, **{**ok, "y_train": np.array([True, False])})
  assert data.Dataset(num_classes=np.int64(2), **ok).y_train.dtype == ok["y_train"].dtype


# --------------------------------------------------------------- provenance: portable, with a content fingerprint

def _sha16(a: np.ndarray) -> str:
  return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def test_provenance_has_no_path_and_a_fingerprint_of_the_arrays(tmp_path):
  # the same arrays, saved under two directories, one compressed: the same provenance
  a = {k: v for k, v in np.load(_npz(tmp_path, "cifar10")).items()}
  one, two = tmp_path / "one", tmp_path / "somewhere" / "else"
  one.mkdir()
  two.mkdir(parents=True)
  np.savez(one / "cifar10.npz", **a)
  np.savez_compressed(two / "cifar10.npz", **{**a, "y_train": a["y_train"].astype(np.int64)})  # dtype: no matter
  ds1, ds2 = (data.load("cifar10", source="files", data_dir=d) for d in (one, two))
  fp = ":".join(_sha16(a[k]) for k in ("x_train", "y_train", "x_test", "y_test"))  # sha256 of each raw array
  assert ds1.provenance == ds2.provenance == f"cifar10.npz (CIFAR-10, 20 train + 5 test images; sha256 {fp})"
  assert "/" not in ds1.provenance and "\\" not in ds1.provenance and str(tmp_path) not in ds1.provenance
  assert data.fingerprint(ds1) == fp
  # one changed label changes the labels' part only; one changed pixel the images' part only
  y = a["y_train"].copy()
  y[3] = (y[3] + 1) % 10
  np.savez(one / "cifar10.npz", **{**a, "y_train": y})
  changed = data.fingerprint(data.load("cifar10", source="files", data_dir=one)).split(":")
  assert changed[1] != fp.split(":")[1] and changed[::2] == fp.split(":")[::2] and changed[3] == fp.split(":")[3]
  x = a["x_test"].copy()
  x[0, 0, 0, 0] ^= 1
  np.savez(one / "cifar10.npz", **{**a, "x_test": x})
  changed = data.fingerprint(data.load("cifar10", source="files", data_dir=one)).split(":")
  assert changed[2] != fp.split(":")[2] and changed[:2] == fp.split(":")[:2]


def test_the_fingerprint_is_the_same_whichever_format_the_data_came_from(tmp_path):
  for sub, as_tar in (("tar", True), ("batches", False)):
    (tmp_path / sub).mkdir()
    x, y = write_cifar(tmp_path / sub, as_tar)
  (tmp_path / "npz").mkdir()
  np.savez(tmp_path / "npz" / "cifar10.npz", x_train=x["train"], y_train=y["train"], x_test=x["test"],
           y_test=y["test"])
  got = {sub: data.load("cifar10", source="files", data_dir=tmp_path / sub).provenance
         for sub in ("tar", "batches", "npz")}
  tail = (f" (CIFAR-10, 15 train + 3 test images; sha256 {_sha16(x['train'])}:"
          f"{_sha16(y['train'].astype(np.uint8))}:{_sha16(x['test'])}:{_sha16(y['test'].astype(np.uint8))})")
  assert got == {"tar": "cifar-10-python.tar.gz" + tail, "batches": "cifar-10-batches-py" + tail,
                 "npz": "cifar10.npz" + tail}

  raw, gz, npz = tmp_path / "raw", tmp_path / "gz", tmp_path / "mnist_npz"
  for d in (raw, gz, npz):
    d.mkdir()
  arrays, names = write_mnist(raw, gz=False)
  for k, stem in names.items():
    (gz / f"{stem}.gz").write_bytes(gzip.compress((raw / stem).read_bytes()))
  np.savez(npz / "mnist.npz", **arrays)
  got = [data.load("mnist", source="files", data_dir=d).provenance for d in (raw, gz, npz)]
  tail = (" (MNIST, 7 train + 4 test images; sha256 "
          + ":".join(_sha16(arrays[k]) for k in ("x_train", "y_train", "x_test", "y_test")) + ")")
  assert got == ["MNIST idx files" + tail, "MNIST idx files" + tail, "mnist.npz" + tail]


def test_tfds_provenance_names_no_directory(monkeypatch):
  import types

  def data_source(name, split, **kwargs):
    return [{"image": np.full((28, 28, 1), i, np.uint8), "label": np.int64(i)} for i in range(3)]
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", types.SimpleNamespace(data_source=data_source))
  ds = data.load("mnist", source="tfds", data_dir="/some/where/tensorflow_datasets")
  assert ds.provenance == f"tfds mnist (MNIST, 3 train + 3 test images; sha256 {data.fingerprint(ds)})"


def test_the_sample_keeps_its_provenance():
  assert data.load("cifar10").provenance == "rethink_jax embedded cifar10 sample (lossless)"
  assert data.load("mnist").provenance == "rethink_jax embedded mnist sample (lossless)"


def test_the_reports_data_label_reads_old_and_new_provenance(tmp_path):
  from rethink_jax.report import _data_label

  fp = "5aaf8a2cf2e577ff:2b7cd2f244873176:b7018a062865e934:cec8a24a1e92aa2e"
  new = f"cifar10.npz (CIFAR-10, 50,000 train + 10,000 test images; sha256 {fp})"
  labels = {  # the older form, with a path, is what results/ keeps
      "npz file /work/shared/data/cifar10.npz | corrupted: random_labels": "CIFAR-10 full",
      "npz file /work/shared/data/cifar10.npz": "CIFAR-10 full",
      "npz file /work/shared/data/mnist.npz": "MNIST full",
      "npz file /work/shared/data/cifar10.npz | first 2000 train | first 1000 test | corrupted: gaussian":
          "CIFAR-10 first 2,000 training images",
      "rethink_jax embedded cifar10 sample (lossless) | first 500 train | first 250 test | corrupted: true_labels":
          "CIFAR-10 embedded sample",
      "rethink_jax embedded cifar10 sample (lossless)": "CIFAR-10 embedded sample",
      "CIFAR-10 python archive /data/cifar-10-python.tar.gz": "CIFAR-10 full",
      "MNIST idx files in /data/mnist": "MNIST full",
      new: "CIFAR-10 full",
      new + " | corrupted: partial_labels p=0.2": "CIFAR-10 full",
      new + " | first 5000 train | first 1000 test | corrupted: random_labels": "CIFAR-10 first 5,000 training images",
      f"cifar-10-batches-py (CIFAR-10, 50,000 train + 10,000 test images; sha256 {fp})": "CIFAR-10 full",
      f"MNIST idx files (MNIST, 60,000 train + 10,000 test images; sha256 {fp})": "MNIST full",
      f"tfds mnist (MNIST, 60,000 train + 10,000 test images; sha256 {fp})": "MNIST full",
      f"cifar10.npz (CIFAR-10, 4,656 train + 164 test images; sha256 {fp})": "CIFAR-10 4,656 training images",
      f"cifar-100-python.tar.gz (CIFAR-100, 50,000 train + 10,000 test images; sha256 {fp})": "CIFAR-100 full",
      f"tfds cifar100 (CIFAR-100, 50,000 train + 10,000 test images; sha256 {fp})": "CIFAR-100 full",
  }
  assert {k: _data_label(k) for k in labels} == labels
  write_mnist(tmp_path, gz=True)
  assert _data_label(data.load("mnist", source="files", data_dir=tmp_path).provenance) == "MNIST 7 training images"


# --------------------------------------------------------------- CIFAR-100 (python version, npz, TFDS)

C100_PARAMS = 28 * 28 * 3 * 512 + 512 + 512 * 100 + 100  # mlp_1x512 on the 28x28 crop, 100 outputs


def test_cifar100_is_a_built_in_dataset():
  assert "cifar100" in data.NAMES and data.NUM_CLASSES["cifar100"] == 100
  assert data.IMAGE_SHAPE["cifar100"] == (32, 32, 3) and data.DISPLAY_NAMES["cifar100"] == "CIFAR-100"
  names = data.CLASS_NAMES["cifar100"]
  assert len(names) == len(set(names)) == 100 and list(names) == sorted(names)  # the meta file's order: a-z
  assert (names[0], names[1], names[30], names[58], names[99]) == ("apple", "aquarium_fish", "dolphin",
                                                                    "pickup_truck", "worm")


@pytest.mark.parametrize("layout", ["tar", "folder", "npz"])
def test_cifar100_python_version_and_npz(tmp_path, layout):
  arrays, path = write_cifar100(tmp_path, layout)
  ds = data.load("cifar100", source="files", data_dir=tmp_path)
  assert ds.num_classes == 100 and ds.name == "cifar100"
  assert ds.x_train.shape == (6, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3) and ds.x_train.dtype == np.uint8
  assert ds.y_train.dtype == np.int32 and ds.y_train.max() == 99
  for k in ("x_train", "y_train", "x_test", "y_test"):  # images CHW -> HWC; labels the *fine* labels
    np.testing.assert_array_equal(getattr(ds, k), arrays[k])
  assert not np.array_equal(ds.y_train, arrays["y_train"] // 5)  # not the coarse labels
  assert ds.provenance == f"{path.name} (CIFAR-100, 6 train + 4 test images; sha256 {data.fingerprint(ds)})"
  assert str(tmp_path) not in ds.provenance


def test_cifar100_also_in_its_subfolder(tmp_path):
  (tmp_path / "cifar100").mkdir()
  arrays, _ = write_cifar100(tmp_path / "cifar100", "tar")
  np.testing.assert_array_equal(data.load("cifar100", source="files", data_dir=tmp_path).y_test, arrays["y_test"])


def test_cifar100_has_the_same_fingerprint_from_tar_folder_and_npz(tmp_path):
  got = {}
  for layout in ("tar", "folder", "npz"):
    (tmp_path / layout).mkdir()
    arrays, _ = write_cifar100(tmp_path / layout, layout)
    got[layout] = data.fingerprint(data.load("cifar100", source="files", data_dir=tmp_path / layout))
  want = ":".join(_sha16(a) for a in (arrays["x_train"], arrays["y_train"].astype(np.uint8), arrays["x_test"],
                                      arrays["y_test"].astype(np.uint8)))  # labels hashed as uint8 (K <= 256)
  assert got == {"tar": want, "folder": want, "npz": want}


def test_cifar100_pickle_labels_are_range_checked_before_the_int32_cast(tmp_path):
  _, folder = write_cifar100(tmp_path, "folder")
  for bad, shown in ((100, "100"), (2**32 + 3, "4294967299")):  # 2**32 + 3 would be class 3 after an int32 cast
    blob = pickle.loads((folder / "test").read_bytes(), encoding="bytes")
    blob[b"fine_labels"][1] = bad
    (folder / "test").write_bytes(pickle.dumps(blob, protocol=2))
    with pytest.raises(DataError, match=rf"cifar100: y_test in CIFAR-100 python files {re.escape(str(folder))}: "
                                        rf"labels must lie in \[0, 100\) for 100 classes; got \[{shown}\]") as e:
      data.load("cifar100", source="files", data_dir=tmp_path)
    assert "\n" not in str(e.value)


def test_cifar100_not_found_names_what_it_looked_for(tmp_path):
  with pytest.raises(DataError) as e:
    data.load("cifar100", source="files", data_dir=tmp_path)
  message = str(e.value)
  assert "\n" not in message
  for want in ("cifar100.npz", "cifar-100-python/", "cifar-100-python.tar.gz", "download('cifar100'"):
    assert want in message, message


def test_the_sample_source_refuses_cifar100_clearly():
  with pytest.raises(DataError, match=r"no embedded CIFAR-100 sample") as e:
    data.load("cifar100")
  message = str(e.value)
  assert "\n" not in message and "source='files'" in message and "source='tfds'" in message
  assert "cifar-100-python.tar.gz" in message and "download('cifar100'" in message


def test_cifar100_with_the_sample_source_on_the_command_line_is_one_line_exit_2_and_writes_nothing(tmp_path):
  repo = pathlib.Path(__file__).resolve().parents[1]
  out = subprocess.run([sys.executable, str(repo / "experiments" / "random_labels.py"), "--config.data.name=cifar100",
                        "--workdir", str(tmp_path / "W")], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(repo)))
  assert out.returncode == 2, out.stderr[-2000:]
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: There is no embedded CIFAR-100 sample"), out.stderr
  assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_cifar100_download_is_the_official_archive_with_its_published_md5(tmp_path, monkeypatch):
  base, files = data.REMOTE_FILES["cifar100"]
  assert files == (("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),)
  assert base.rstrip("/") + "/" + files[0][0] == "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
  remote = tmp_path / "remote"
  remote.mkdir()
  arrays, tar = write_cifar100(remote, "tar")
  out = tmp_path / "out"
  with serve(remote) as url:  # a local mirror: no network
    with pytest.raises(DataError, match="Checksum mismatch .*expected eb9058c3a382ffc7106e4002c42a8d85"):
      data.download("cifar100", out, base_url=url, progress=False)
    assert not any(out.iterdir()), list(out.iterdir())
    monkeypatch.setitem(data.REMOTE_FILES, "cifar100",
                        (url, (("cifar-100-python.tar.gz", hashlib.md5(tar.read_bytes()).hexdigest()),)))
    assert data.download("cifar100", out, progress=False) == out
  assert os.listdir(out) == ["cifar-100-python.tar.gz"]
  np.testing.assert_array_equal(data.load("cifar100", source="files", data_dir=out).y_train, arrays["y_train"])


def test_cifar100_tfds_reads_the_fine_label(monkeypatch):
  import types

  seen = []

  def data_source(name, split, **kwargs):
    seen.append(name)
    return [{"image": np.full((32, 32, 3), i, np.uint8), "label": np.int64(90 + i), "coarse_label": np.int64(i),
             "id": f"{split}_{i}"} for i in range(3)]
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", types.SimpleNamespace(data_source=data_source))
  ds = data.load("cifar100", source="tfds", data_dir="/some/where")
  assert seen == ["cifar100", "cifar100"] and ds.num_classes == 100
  np.testing.assert_array_equal(ds.y_train, [90, 91, 92])
  assert ds.provenance == f"tfds cifar100 (CIFAR-100, 3 train + 3 test images; sha256 {data.fingerprint(ds)})"


def test_cifar100_trains_a_100_class_model(tmp_path):
  from rethink_jax import train
  from rethink_jax.configs import common

  data_dir = tmp_path / "data"
  data_dir.mkdir()
  write_cifar100(data_dir, "tar", n_train=40, n_test=8)
  c = common.base_config()
  c = common.override(c, **{"data.name": "cifar100", "data.source": "files", "data.data_dir": str(data_dir),
                            "data.max_train": 32, "batch_size": 16, "num_epochs": 1.0, "model": "mlp_1x512",
                            "progress": False, "log_every_steps": 1, "eval_every_steps": 2,
                            "checkpoint_every_steps": 2})
  summary = train.train_and_evaluate(c, str(tmp_path / "run"))
  assert summary["num_params"] == C100_PARAMS == 1_256_036
  assert summary["step"] == 2 and summary["dataset"].startswith("cifar-100-python.tar.gz (CIFAR-100, 40 train")
  assert "first 32 train" in summary["dataset"]


def test_from_arrays_refuses_non_finite_images_an_empty_training_split_and_bad_num_classes():
  x, y = np.zeros((3, 2, 2, 1), np.float32), np.array([0, 1, 0])
  bad = x.copy()
  bad[1, 0, 0, 0] = np.nan
  with pytest.raises(data.DataError, match="mine: x_train holds NaN or infinite values"):
    data.from_arrays("mine", bad, y, x, y, num_classes=2)
  with pytest.raises(data.DataError, match="mine: x_test holds NaN or infinite values"):
    data.from_arrays("mine", x, y, np.full_like(x, np.inf), y, num_classes=2)
  with pytest.raises(data.DataError, match="mine: x_test holds values beyond float32's range"):
    data.from_arrays("mine", x, y, np.full((3, 2, 2, 1), 1e39), y, num_classes=2)
  with pytest.raises(data.DataError, match="mine: x_train holds no images"):
    data.from_arrays("mine", x[:0], y[:0], x, y, num_classes=2)
  for k in (None, 0, 2.0):
    with pytest.raises(data.DataError, match=rf"from_arrays\('mine'\): num_classes must be an int .* got {k!r}"):
      data.from_arrays("mine", x, y, x, y, num_classes=k)
  assert len(data.from_arrays("mine", x, y, x[:0], y[:0], num_classes=2).y_test) == 0  # no test split: allowed
