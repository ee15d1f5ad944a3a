import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import struct
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
  assert ("archive" if as_tar else "batches") in ds.provenance


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
  with pytest.raises(DataError, match="corrupt or truncated"):
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


# --------------------------------------------------------------- tfds

@pytest.mark.parametrize("name,shape", [("cifar10", (32, 32, 3)), ("mnist", (28, 28, 1))])
def test_tfds_mocked(name, shape):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=6):
    ds = data.load(name, source="tfds")
  assert ds.x_train.shape == (6, *shape) and ds.x_train.dtype == np.uint8
  assert ds.y_train.dtype == np.int32 and ds.y_train.max() < 10
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
