"""ImageNet: Inception V3, the input pipeline in both formats, top-k, corruption by index, Table 2."""

import io
import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

from rethink_jax import corruptions, imagenet, models, records, report, sweep
from rethink_jax.configs import common, imagenet as imagenet_configs
from rethink_jax.data import DataError
from rethink_jax.models.inception_v3 import InceptionV3

REPO = pathlib.Path(__file__).resolve().parents[1]
CLASSES = ("n01440764", "n01443537", "n01484850")


def write_jpeg_tree(root: pathlib.Path, per_class: dict[str, int], seed: int = 0) -> pathlib.Path:
  rng = np.random.default_rng(seed)
  for split, n in per_class.items():
    for c in CLASSES:
      (root / split / c).mkdir(parents=True, exist_ok=True)
      for i in range(n):
        shape = (int(rng.integers(40, 90)), int(rng.integers(40, 90)), 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / split / c / f"{c}_{i}.JPEG")
  return root


class ArraySource:
  """A tiny in-memory source: ``n`` random images of random sizes."""

  def __init__(self, n: int, num_classes: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    self.images = [rng.integers(0, 256, (int(rng.integers(30, 60)), int(rng.integers(30, 60)), 3), dtype=np.uint8)
                   for _ in range(n)]
    self.labels = rng.integers(0, num_classes, n)
    self.num_classes, self.provenance = num_classes, f"{n} random arrays"

  def __len__(self):
    return len(self.images)

  def __getitem__(self, i):
    return {"image": self.images[i], "label": int(self.labels[i])}


# ----------------------------------------------------------------------------- model

def test_inception_v3_has_the_reference_parameter_count():
  abstract = nnx.eval_shape(lambda: models.create("inception_v3", 1000, input_shape=(299, 299, 3), rngs=nnx.Rngs(0)))
  assert models.count_params(abstract) == models.REFERENCE_PARAM_COUNTS["inception_v3"] == 23_817_352


def test_inception_v3_shapes_with_and_without_the_auxiliary_head():
  def build_and_apply(aux, train):
    model = InceptionV3(num_classes=1000, aux_head=aux, rngs=nnx.Rngs(0))
    return model(jnp.zeros((2, 299, 299, 3)), train=train)

  assert jax.eval_shape(lambda: build_and_apply(False, True)).shape == (2, 1000)
  logits, aux = jax.eval_shape(lambda: build_and_apply(True, True))
  assert logits.shape == aux.shape == (2, 1000)
  assert jax.eval_shape(lambda: build_and_apply(True, False)).shape == (2, 1000)  # aux only in training
  with_aux = nnx.eval_shape(lambda: InceptionV3(num_classes=1000, aux_head=True, rngs=nnx.Rngs(0)))
  # aux head: 1x1/128 conv + BN offsets, 5x5/768 conv + BN offsets, 768 -> 1000 linear
  assert models.count_params(with_aux) - 23_817_352 == 768 * 128 + 128 + 5 * 5 * 128 * 768 + 768 + 768 * 1000 + 1000


# ----------------------------------------------------------------------------- preprocessing

def test_preprocessing_shapes_ranges_and_determinism():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (50, 80, 3), dtype=np.uint8)
  buf = io.BytesIO()
  Image.fromarray(image[..., 0]).save(buf, format="PNG")  # grayscale bytes -> 3 channels
  for source in (image, buf.getvalue()):
    out = imagenet.preprocess_eval(source)
    assert out.shape == (299, 299, 3) and out.dtype == np.uint8
  a = imagenet.preprocess_train(image, np.random.default_rng(7))
  b = imagenet.preprocess_train(image, np.random.default_rng(7))
  c = imagenet.preprocess_train(image, np.random.default_rng(8))
  assert a.shape == (299, 299, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  x = imagenet.to_model_input(jnp.asarray([[0, 255, 128]], jnp.uint8))
  np.testing.assert_allclose(np.asarray(x), [[-1.0, 1.0, 128 / 127.5 - 1]], atol=1e-6)
  with pytest.raises(DataError, match="decode"):
    imagenet.decode_image(b"not a jpeg")


def test_bad_preprocessing_arguments_are_one_clear_error():
  image = np.zeros((50, 80, 3), np.uint8)
  rng = np.random.default_rng(0)
  with pytest.raises(DataError, match=r"decode_image: .*C = 1, 3 or 4 channels.*\(3, 50, 80\)"):
    imagenet.decode_image(np.zeros((3, 50, 80), np.uint8))  # channels first: was read as 80 channels, 3 kept
  with pytest.raises(DataError, match=r"decode_image: expected a non-empty"):
    imagenet.preprocess_eval(np.zeros((0, 0, 3), np.uint8))  # was a black 299x299 image
  with pytest.raises(TypeError, match="preprocess_eval: size must be an integer >= 1, got 32.0"):
    imagenet.preprocess_eval(image, 32.0)
  with pytest.raises(TypeError, match="preprocess_train: rng must be a numpy.random.Generator"):
    imagenet.preprocess_train(image, 7, 32)
  with pytest.raises(ValueError, match="inception_crop_box: height must be an integer >= 1, got 0"):
    imagenet.inception_crop_box(rng, 0, 10)  # was the box (-1, 0, 1, 10)
  with pytest.raises(ValueError, match=r"inception_crop_box: area_range must be a pair \(low, high\) with 0 < low"):
    imagenet.inception_crop_box(rng, 100, 100, area_range=(1.0, 0.08))
  with pytest.raises(TypeError, match="to_model_input: images must be a uint8 array"):
    imagenet.to_model_input(jnp.asarray([[0.0, 0.5, 1.0]]))  # already scaled: was mapped to [-1, -0.99]


def test_bad_pipeline_arguments_are_one_clear_error():
  src = ArraySource(10)
  kw = dict(global_batch=4, seed=0, start_step=0, num_steps=2, augment=False, size=16, num_threads=1)
  with pytest.raises(ValueError, match="train_batches: global_batch must be an integer >= 1, got 0"):
    imagenet.train_batches(src, **{**kw, "global_batch": 0})
  with pytest.raises(ValueError, match=r"train_batches: process_index must be in \[0, 1\)"):
    imagenet.train_batches(src, **kw, process_index=1)  # read other steps' examples before
  with pytest.raises(TypeError, match="train_batches: seed must be an integer >= 0"):
    imagenet.train_batches(src, **{**kw, "seed": None})
  with pytest.raises(ValueError, match="train_batches: num_steps must be an integer >= 0"):
    imagenet.train_batches(src, **{**kw, "num_steps": -1})
  with pytest.raises(ValueError, match="train_batches: num_threads must be an integer >= 1, got 0"):
    imagenet.train_batches(src, **{**kw, "num_threads": 0})
  ekw = dict(batch=4, size=16, num_threads=1)
  with pytest.raises(ValueError, match="eval_batches: batch 5 is not divisible by 2 hosts"):
    imagenet.eval_batches(src, np.arange(7), **{**ekw, "batch": 5}, process_count=2)  # skipped an example per batch
  with pytest.raises(ValueError, match=r"eval_batches: indices must lie in \[0, 10\)"):
    imagenet.eval_batches(src, np.array([0, -1]), **ekw)  # -1: the last example, silently
  with pytest.raises(ValueError, match="eval_batches: indices must be a 1-D array of example indices"):
    imagenet.eval_batches(src, np.array([0.5, 1.7]), **ekw)


def test_inception_crop_box_respects_area_and_aspect():
  rng = np.random.default_rng(0)
  for _ in range(200):
    top, left, h, w = imagenet.inception_crop_box(rng, 120, 200)
    assert 0 <= top and top + h <= 120 and 0 <= left and left + w <= 200
    if (h, w) != (120, 120):  # not the central fallback
      assert 0.08 * 0.9 <= h * w / (120 * 200) <= 1.0
      assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1


def test_top_k_correct():
  logits = jnp.array([[0.1, 0.5, 0.2, 0.9, 0.0, 0.3, 0.4],
                      [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
  labels = jnp.array([1, 3])
  # row 0: ranking 3, 1, 6, 5, 2, ... -> label 1 is 2nd; row 1: label 3 ties at 0.0
  np.testing.assert_array_equal(imagenet.top_k_correct(logits, labels, 1), [False, False])
  np.testing.assert_array_equal(imagenet.top_k_correct(logits, labels, 2)[0], True)
  np.testing.assert_array_equal(imagenet.top_k_correct(logits, labels[:1] * 0 + 4, 5)[0], False)
  np.testing.assert_array_equal(imagenet.top_k_correct(logits[:, :3], jnp.array([2, 1]), 5), [True, True])


# ----------------------------------------------------------------------------- pipeline

def _collect(it):
  return [{k: np.asarray(v) for k, v in b.items()} for b in it]


def test_train_batches_are_sharded_by_host_and_resume_exactly():
  src = ArraySource(20)
  kw = dict(global_batch=8, seed=3, augment=True, size=32, num_threads=2)
  whole = _collect(imagenet.train_batches(src, start_step=0, num_steps=5, **kw))  # 2 steps/epoch: crosses epochs
  assert [b["image"].shape for b in whole] == [(8, 32, 32, 3)] * 5
  hosts = [_collect(imagenet.train_batches(src, start_step=0, num_steps=5, process_index=i, process_count=2, **kw))
           for i in range(2)]
  for s in range(5):
    for key in ("image", "label", "index"):
      np.testing.assert_array_equal(np.concatenate([hosts[0][s][key], hosts[1][s][key]]), whole[s][key])
  resumed = _collect(imagenet.train_batches(src, start_step=3, num_steps=2, **kw))
  for key in ("image", "index"):
    np.testing.assert_array_equal(resumed[0][key], whole[3][key])
  # an epoch visits distinct examples; the next epoch reorders them
  assert len(set(np.concatenate([whole[0]["index"], whole[1]["index"]]))) == 16
  assert not np.array_equal(whole[0]["index"], whole[2]["index"])
  np.testing.assert_array_equal(whole[0]["label"], src.labels[whole[0]["index"]])


def test_eval_batches_pad_and_mask_the_last_batch():
  src = ArraySource(7)
  batches = _collect(imagenet.eval_batches(src, np.arange(7), batch=4, size=16, num_threads=2))
  assert len(batches) == 2
  np.testing.assert_array_equal(batches[1]["mask"], [1, 1, 1, 0])
  np.testing.assert_array_equal(np.concatenate([b["index"] for b in batches])[:7], np.arange(7))


def test_labels_corrupted_by_index_stay_fixed():
  key = jax.random.key(0)
  idx = jnp.arange(20000)
  labels = jnp.zeros(20000, jnp.int32)
  full = corruptions.partial_labels_by_index(key, idx, labels, 0.5, 1000)
  # any batch order or split gives the same label per example
  perm = np.random.default_rng(0).permutation(20000)[:500]
  np.testing.assert_array_equal(corruptions.partial_labels_by_index(key, idx[perm], labels[perm], 0.5, 1000),
                                full[perm])
  changed = float(jnp.mean(full != labels))
  assert abs(changed - 0.5 * (1 - 1 / 1000)) < 4 * np.sqrt(0.25 / 20000)
  np.testing.assert_array_equal(corruptions.partial_labels_by_index(key, idx, labels, 0.0, 1000), labels)
  with pytest.raises(ValueError, match="same shape"):
    corruptions.partial_labels_by_index(key, idx[:3], labels[:4], 0.5, 1000)


# ----------------------------------------------------------------------------- bad input

def test_jpeg_directory_errors(tmp_path):
  with pytest.raises(DataError, match="No ImageNet split directory"):
    imagenet.JpegDirectory(tmp_path, "train")
  write_jpeg_tree(tmp_path, {"train": 1, "val": 1})
  source = imagenet.JpegDirectory(tmp_path, "val")
  assert len(source) == 3 and source.num_classes == 3 and source[2]["label"] == 2
  for f in (tmp_path / "val" / CLASSES[1]).iterdir():
    f.unlink()
  (tmp_path / "val" / CLASSES[1]).rmdir()
  with pytest.raises(DataError, match="missing 1 of the 3 classes"):
    imagenet.JpegDirectory(tmp_path, "val")


def test_tfds_not_prepared_says_how_to_prepare_it(tmp_path):
  with pytest.raises(DataError, match="tfds build imagenet2012"):
    imagenet.TfdsSource("train", data_dir=tmp_path)


# ----------------------------------------------------------------------------- training

def _tiny(model="inception_v3", **changes):
  return common.override(imagenet_configs.get_config("tiny"), model=model, **changes)


def test_inception_v3_trains_on_jpeg_files(tmp_path):
  root = write_jpeg_tree(tmp_path / "data", {"train": 6, "val": 2})
  c = _tiny(**{"data.source": "jpeg", "data.data_dir": str(root), "augment.inception_crop": True})
  summary = imagenet.train_and_evaluate(c, tmp_path / "run")
  assert summary["step"] == 2 and summary["num_params"] > 2e7
  rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows if "test_top1" in r] == [2]
  assert 0.0 <= summary["test_top1"] <= summary["test_top5"] <= 1.0
  assert np.isfinite(rows[-1]["batch_loss"])


def test_tfds_format_random_labels_resume_and_table2(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=24):
    train_src, val_src = imagenet.TfdsSource("train"), imagenet.TfdsSource("val")
    assert len(train_src) == 24 and train_src.num_classes == 1000
    c = _tiny("mlp_1x512", **{"corruption.kind": "random_labels", "data.image_size": 32, "num_epochs": 2.0,
                              "eval_every_steps": 3})
    runs = sweep.SweepRuns("table2", {"random_labels": (c, {"imagenet_row": "random_labels"})})
    whole = sweep.run_sweep(runs, tmp_path / "whole", train_fn=lambda cfg, wd: imagenet.train_and_evaluate(
        cfg, wd, train_source=train_src, val_source=val_src))["random_labels"]
    half = c.copy_and_resolve_references()
    half.num_epochs = 1.0  # stop after 3 steps, then resume to 6 (num_epochs may change on resume)
    imagenet.train_and_evaluate(half, tmp_path / "parts", train_source=train_src, val_source=val_src)
    resumed = imagenet.train_and_evaluate(c, tmp_path / "parts", train_source=train_src, val_source=val_src)
  assert whole["step"] == resumed["step"] == 6
  for key in ("train_top1", "test_top1", "test_top5"):
    assert whole[key] == resumed[key]
  a = [json.loads(x) for x in (pathlib.Path(records.read_sweep(tmp_path / "whole")[1]["random_labels"]["dir"])
                                / "metrics.jsonl").read_text().splitlines()]
  b = [json.loads(x) for x in (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()]
  assert [r.get("batch_loss") for r in a] == [r.get("batch_loss") for r in b]
  table, figure = report.build(tmp_path / "whole")
  text = table.read_text()
  assert "| none, random labels |" in text and "95.20" in text and figure.name == "figure2a.png"


def test_imagenet_script_end_to_end(tmp_path):
  root = write_jpeg_tree(tmp_path / "data", {"train": 4, "val": 1})
  argv = [sys.executable, str(REPO / "experiments" / "imagenet.py"), "--workdir", str(tmp_path / "runs"),
          "--config", str(REPO / "rethink_jax/configs/imagenet.py") + ":tiny", "--config.model=mlp_1x512",
          "--config.data.image_size=32", "--config.data.source=jpeg", f"--config.data.data_dir={root}"]
  dry = subprocess.run(argv + ["--dry_run"], capture_output=True, text=True, timeout=600, cwd=REPO)
  assert dry.returncode == 0 and not (tmp_path / "runs").exists(), dry.stderr[-4000:]
  out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
  assert out.returncode == 0, out.stderr[-4000:]
  run_dir = pathlib.Path(records.read_sweep(tmp_path / "runs")[1]["tiny"]["dir"])
  assert (run_dir / "summary.json").exists()
  assert f"run directory {run_dir}\n" in dry.stdout  # the dry run names the directory the run then used
  assert (tmp_path / "runs" / "figure2a.png").exists() and (tmp_path / "runs" / "table2.md").exists()
