"""ImageNet (ILSVRC 2012) for the paper's Table 2 and Figure 2a: Inception V3 trained with
and without augmentation, dropout and weight decay, and on random labels (Section 2).

Unlike CIFAR-10 (150 MB, kept on the devices), ImageNet is streamed from the host:

* **Sources** (random access by example index): :class:`JpegDirectory` for the standard
  ``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG`` layout, and :class:`TfdsSource` for a
  prepared TFDS ``imagenet2012`` read with ``tfds.data_source`` (no TensorFlow needed to
  read an ``array_record`` build).
* **Pipeline**: grain's ``MapDataset`` over positions of the training stream, decoded and
  preprocessed by a thread pool. The order of epoch ``e`` is a permutation drawn from
  ``(seed, e)``; global batch ``s`` is positions ``s*B .. (s+1)*B - 1`` and each host reads
  its own contiguous ``B / num_hosts`` of them; augmentation draws come from
  ``(seed, position)``. So every host, thread count and resume sees the same examples and
  the same crops. grain was chosen over ``tf.data`` because it needs no TensorFlow, reads
  ``tfds.data_source`` directly and indexes deterministically.
* **Preprocessing** (Inception, Szegedy et al. 2016): training with augmentation takes a
  random crop covering 8-100% of the image with aspect ratio 3/4-4/3, resized to 299, and a
  random flip; evaluation (and training without augmentation) takes the central 87.5% and
  resizes it. Images travel as ``uint8`` and are scaled to ``[-1, 1]`` on the device.
* **Label corruption** is applied inside the train step by example index
  (:func:`rethink_jax.corruptions.partial_labels_by_index`), so it is fixed once for the
  whole run, as the paper requires, without a table of 1.28 million labels.
* **Evaluation**: top-1 and top-5 on the validation set, and top-1 on a fixed subset of the
  (corrupted) training set, as Table 2 reports.
"""

from __future__ import annotations

import functools
import io
import math
import os
import pathlib
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from rethink_jax import corruptions, loop, models, records, train
from rethink_jax.configs import validate
from rethink_jax.data import DataError

__all__ = ["JpegDirectory", "TfdsSource", "open_source", "decode_image", "inception_crop_box", "preprocess_train",
           "preprocess_eval", "to_model_input", "top_k_correct", "train_batches", "eval_batches",
           "train_and_evaluate", "make_imagenet_step", "corruption_record", "IMAGE_SIZE", "NUM_CLASSES",
           "EVAL_CROP_FRACTION", "PREPARE_TFDS"]

IMAGE_SIZE = 299
NUM_CLASSES = 1000
EVAL_CROP_FRACTION = 0.875
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
PREPARE_TFDS = (
    "Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org into "
    "{manual_dir}, then run `pip install 'rethink-jax[tfds]'` and "
    "`tfds build imagenet2012 --data_dir={data_dir} --manual_dir={manual_dir} --file_format=array_record`.")


# ----------------------------------------------------------------------------- sources

class JpegDirectory:
  """Images in ``root/<split>/<class>/<file>``; classes are the sorted directory names of
  ``root/train`` (or of the split itself when there is no ``train``), so ``train`` and ``val``
  share one class index. ``source[i]`` is ``{"image": bytes, "label": int}``."""

  def __init__(self, root: str | os.PathLike, split: str):
    root = pathlib.Path(root).expanduser()
    split_dir = root / split
    if not split_dir.is_dir():
      raise DataError(f"No ImageNet split directory {split_dir}: expected {root}/{{train,val}}/<class>/<image>.JPEG.")
    class_root = root / "train" if (root / "train").is_dir() else split_dir
    self.classes = sorted(d.name for d in class_root.iterdir() if d.is_dir())
    if not self.classes:
      raise DataError(f"{class_root} has no class directories.")
    present = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    unknown = sorted(set(present) - set(self.classes))
    if unknown:
      raise DataError(f"{split_dir} has class directories absent from {class_root}: {unknown[:5]}.")
    index = {c: i for i, c in enumerate(self.classes)}
    files, labels = [], []
    for c in present:
      for f in sorted((split_dir / c).iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
          files.append(f)
          labels.append(index[c])
    if not files:
      raise DataError(f"{split_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    missing = len(self.classes) - len(present)
    if missing:  # a partial copy: say so rather than train on a silently smaller problem
      raise DataError(f"{split_dir} is missing {missing} of the {len(self.classes)} classes "
                      f"(e.g. {sorted(set(self.classes) - set(present))[:3]}); the copy looks partial.")
    self.files, self.labels = files, np.asarray(labels, np.int32)
    self.num_classes = len(self.classes)
    self.provenance = f"JPEG directory {split_dir} ({len(files)} images, {self.num_classes} classes)"

  def __len__(self) -> int:
    return len(self.files)

  def __getitem__(self, i: int) -> dict[str, Any]:
    return {"image": self.files[i].read_bytes(), "label": int(self.labels[i])}


class TfdsSource:
  """A prepared TFDS ``imagenet2012`` split through ``tfds.data_source``."""

  def __init__(self, split: str, data_dir: str | os.PathLike | None = None, name: str = "imagenet2012"):
    import tensorflow_datasets as tfds  # heavy: only when asked for

    split = {"val": "validation"}.get(split, split)
    try:
      self._source = tfds.data_source(name, split=split, data_dir=None if data_dir is None else str(data_dir),
                                      download=False)
    except Exception as e:
      where = pathlib.Path(data_dir or "~/tensorflow_datasets").expanduser()
      raise DataError(f"TFDS {name!r} ({split}) is not prepared in {where} ({type(e).__name__}: {e}). " +
                      PREPARE_TFDS.format(manual_dir=where / "downloads" / "manual", data_dir=where)) from e
    self.num_classes = NUM_CLASSES
    self.provenance = f"tfds {name} {split} (data_source) in {data_dir or 'the default TFDS dir'}"

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, i: int) -> dict[str, Any]:
    example = self._source[i]
    return {"image": example["image"], "label": int(example["label"])}


def open_source(config: ml_collections.ConfigDict, split: str):
  """The source named by ``config.data``: ``source="tfds"`` or ``"jpeg"`` (``data_dir`` the root)."""
  if config.data.source == "jpeg":
    if not config.data.data_dir:
      raise DataError("data.source='jpeg' needs data.data_dir: the directory holding train/ and val/.")
    return JpegDirectory(config.data.data_dir, split)
  if config.data.source == "tfds":
    return TfdsSource(split, config.data.data_dir or None)
  raise DataError(f"Unknown ImageNet source {config.data.source!r}; choose 'tfds' or 'jpeg'.")


# ----------------------------------------------------------------------------- preprocessing

def decode_image(image) -> np.ndarray:
  """JPEG/PNG bytes or an array -> ``[H, W, 3]`` uint8 RGB (grayscale and CMYK converted)."""
  if isinstance(image, (bytes, bytearray)):
    from PIL import Image
    try:
      with Image.open(io.BytesIO(image)) as im:
        return np.asarray(im.convert("RGB"))
    except Exception as e:
      raise DataError(f"Could not decode an image ({type(e).__name__}: {e}).") from e
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.dtype != np.uint8:
    raise DataError(f"Expected a [H, W, C] uint8 image, got {image.shape} {image.dtype}.")
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def inception_crop_box(rng: np.random.Generator, height: int, width: int, area_range=(0.08, 1.0),
                       aspect_range=(3 / 4, 4 / 3), attempts: int = 10) -> tuple[int, int, int, int]:
  """A random ``(top, left, h, w)`` covering ``area_range`` of the image with an aspect ratio
  in ``aspect_range`` (log-uniform); after ``attempts`` misses, the central crop."""
  area = height * width
  for _ in range(attempts):
    target = area * rng.uniform(*area_range)
    aspect = math.exp(rng.uniform(math.log(aspect_range[0]), math.log(aspect_range[1])))
    w = int(round(math.sqrt(target * aspect)))
    h = int(round(math.sqrt(target / aspect)))
    if 0 < w <= width and 0 < h <= height:
      return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
  return _central_box(height, width, 1.0)


def _central_box(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
  h, w = max(1, int(round(height * fraction))), max(1, int(round(width * fraction)))
  return (height - h) // 2, (width - w) // 2, h, w


def _crop_resize(image: np.ndarray, box, size: int) -> np.ndarray:
  from PIL import Image
  top, left, h, w = box
  crop = Image.fromarray(image[top:top + h, left:left + w])
  return np.asarray(crop.resize((size, size), Image.BILINEAR))


def preprocess_train(image, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
  """Inception training augmentation: random-sized crop, resize to ``size``, random flip."""
  image = decode_image(image)
  out = _crop_resize(image, inception_crop_box(rng, *image.shape[:2]), size)
  return out[:, ::-1] if rng.random() < 0.5 else out


def preprocess_eval(image, size: int = IMAGE_SIZE) -> np.ndarray:
  """Central 87.5% of the image, resized to ``size`` (evaluation, and training without augmentation)."""
  image = decode_image(image)
  return _crop_resize(image, _central_box(*image.shape[:2], EVAL_CROP_FRACTION), size)


def to_model_input(images_uint8: jax.Array) -> jax.Array:
  """uint8 images -> float32 in ``[-1, 1]`` (the Inception convention), on the device."""
  return images_uint8.astype(jnp.float32) / 127.5 - 1.0


def top_k_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """``[B]`` booleans: whether each label is among the ``k`` largest logits (all of them
  when there are fewer than ``k`` classes)."""
  _, top = jax.lax.top_k(logits, min(k, logits.shape[-1]))
  return jnp.any(top == labels[:, None], axis=-1)


# ----------------------------------------------------------------------------- pipelines

@functools.lru_cache(maxsize=4)
def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
  return np.random.default_rng((seed, 2, epoch)).permutation(n)


def train_batches(source, *, global_batch: int, seed: int, start_step: int, num_steps: int, augment: bool,
                  size: int = IMAGE_SIZE, process_index: int = 0, process_count: int = 1,
                  num_threads: int = 16) -> Iterator[dict[str, np.ndarray]]:
  """This host's share of global batches ``start_step .. start_step + num_steps - 1``.

  Yields ``{"image": [b, size, size, 3] uint8, "label": [b] int32, "index": [b] int32}``
  with ``b = global_batch / process_count``. Each epoch is a permutation of the source
  from ``(seed, epoch)``; the partial last batch of an epoch is dropped.
  """
  import grain

  n = len(source)
  if global_batch % process_count:
    raise ValueError(f"global batch {global_batch} is not divisible by {process_count} hosts.")
  local = global_batch // process_count
  per_epoch = (n // global_batch) * global_batch
  if per_epoch == 0:
    raise ValueError(f"global batch {global_batch} exceeds the {n} training examples.")

  def load(local_pos: int) -> dict[str, Any]:
    step, j = divmod(local_pos, local)
    position = step * global_batch + process_index * local + j   # in the global stream
    epoch, k = divmod(position, per_epoch)
    index = int(_epoch_order(seed, epoch, n)[k])
    example = source[index]
    if augment:
      image = preprocess_train(example["image"], np.random.default_rng((seed, 3, position)), size)
    else:
      image = preprocess_eval(example["image"], size)
    return {"image": image, "label": np.int32(example["label"]), "index": np.int32(index)}

  first = start_step * local
  ds = grain.MapDataset.range(first, first + num_steps * local).map(load).batch(local, drop_remainder=True)
  return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4 * local)))


def eval_batches(source, indices: np.ndarray, *, batch: int, size: int = IMAGE_SIZE, process_index: int = 0,
                 process_count: int = 1, num_threads: int = 16) -> Iterator[dict[str, np.ndarray]]:
  """This host's share of ``indices`` in batches of ``batch`` (global), eval preprocessing.

  The last batch is padded by repeating the last index and carries ``mask`` (1 real, 0 pad).
  """
  import grain

  local = batch // process_count
  num_batches = -(-len(indices) // batch)

  def load(local_pos: int) -> dict[str, Any]:
    b, j = divmod(local_pos, local)
    pos = b * batch + process_index * local + j
    index = int(indices[min(pos, len(indices) - 1)])
    example = source[index]
    return {"image": preprocess_eval(example["image"], size), "label": np.int32(example["label"]),
            "index": np.int32(index), "mask": np.float32(pos < len(indices))}

  ds = grain.MapDataset.range(0, num_batches * local).map(load).batch(local)
  return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4 * local)))


# ----------------------------------------------------------------------------- training

def corruption_record(config, key: jax.Array) -> dict:
  """The run record of ImageNet's label corruption, in the form of
  :class:`rethink_jax.corruptions.CorruptionRecord` (labels are corrupted by example index
  inside the train step, so the changed fraction is not counted: ``fraction_changed`` is None)."""
  kind = config.corruption.kind
  p = {"true_labels": None, "random_labels": None}.get(kind, float(config.corruption.p))
  return {"kind": kind, "p": p, "key_data": [int(v) for v in np.ravel(jax.random.key_data(key))],
          "fraction_changed": None, "splits": [] if kind == "true_labels" else ["train"]}


def _corrupt_fn(config, key):
  kind, p = config.corruption.kind, config.corruption.p
  if kind == "true_labels":
    return lambda batch, num_classes: batch["label"]
  p = 1.0 if kind == "random_labels" else p
  return lambda batch, num_classes: corruptions.partial_labels_by_index(key, batch["index"], batch["label"], p,
                                                                        num_classes)


def make_imagenet_step(graphdef, config: ml_collections.ConfigDict, mesh, keys: dict[str, jax.Array],
                       num_classes: int):
  """The compiled ImageNet step ``(state, batch, sums) -> (state, sums)`` (state and sums donated).

  ``batch`` is a global batch ``{"image": [B, S, S, 3] uint8, "label": [B], "index": [B]}``
  sharded over the mesh's ``data`` axis; labels are corrupted by example index with the
  run's ``corruption`` key, the model trained with its ``dropout`` key (:data:`rethink_jax.train.STREAMS`).
  """
  corrupt = _corrupt_fn(config, keys["corruption"])
  train_step = train.make_train_step(graphdef, config, keys["dropout"])
  batch_sharding = NamedSharding(mesh, P("data"))

  @functools.partial(jax.jit, donate_argnums=(0, 2))
  def step_fn(state, batch, sums):
    images = jax.lax.with_sharding_constraint(to_model_input(batch["image"]), batch_sharding)
    new_state, m = train_step(state, {"image": images, "label": corrupt(batch, num_classes)})
    return new_state, loop.add_step(sums, m, state.step)

  return step_fn


class _ImagenetProgram:
  """Inception V3 on a streamed ImageNet (the loop's :class:`~rethink_jax.loop.Program`)."""

  engine, num_runs, fit_metric = "imagenet", 1, "train_top1"

  def __init__(self, config, mesh, graphdef, keys, train_source, val_source, num_classes: int):
    self.config, self.mesh = config, mesh
    self.train_source, self.val_source = train_source, val_source
    self.steps_per_epoch = len(train_source) // config.batch_size
    self.batch_size = config.batch_size
    self.size = size = config.data.image_size
    self.pi, self.pc = jax.process_index(), jax.process_count()
    o = config.optim
    self._schedule = train.lr_schedule(o.lr, o.lr_decay, o.decay_examples, config.batch_size)
    corrupt = _corrupt_fn(config, keys["corruption"])
    self._batch_sharding = NamedSharding(mesh, P("data"))
    step_fn = make_imagenet_step(graphdef, config, mesh, keys, num_classes)

    @functools.partial(jax.jit, static_argnums=2)
    def eval_fn(state, batch, with_corruption: bool):
      logits, _ = train.forward(graphdef, state.params, state.model_state, to_model_input(batch["image"]), False,
                                None)
      labels = corrupt(batch, num_classes) if with_corruption else batch["label"]
      mask = batch["mask"]
      return (jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, labels) * mask),
              jnp.sum(top_k_correct(logits, labels, 1) * mask), jnp.sum(top_k_correct(logits, labels, 5) * mask))

    self._step, self._eval = step_fn, eval_fn
    self.eval_train = np.sort(np.random.default_rng((config.seed, 4)).permutation(len(train_source))
                              [:min(config.eval_train_examples, len(train_source))])
    self.eval_val = np.arange(min(config.eval_test_examples or len(val_source), len(val_source)))
    self._batches, self._next_step = None, None

  def _global(self, local: dict) -> dict:
    return {k: jax.make_array_from_process_local_data(self._batch_sharding, v) for k, v in local.items()}

  def zero_sums(self) -> loop.StepSums:
    return train.replicate(self.mesh, loop.StepSums.zeros())

  def train(self, state, sums, first_step, num_steps, active):
    del active
    if self._next_step != first_step:  # (re)open the stream where the loop is: the same batches on resume
      c = self.config
      self._batches = train_batches(self.train_source, global_batch=c.batch_size, seed=c.seed, start_step=first_step,
                                    num_steps=records.total_steps(c, self.steps_per_epoch) - first_step,
                                    augment=c.augment.inception_crop, size=self.size, process_index=self.pi,
                                    process_count=self.pc, num_threads=c.data.num_threads)
    for _ in range(num_steps):
      state, sums = self._step(state, self._global(next(self._batches)), sums)
    self._next_step = first_step + num_steps
    return state, sums

  def _evaluate(self, state, source, indices, with_corruption):
    sums = jnp.zeros(3)  # summed on device: one host read per evaluation, not per batch
    for local in eval_batches(source, indices, batch=self.config.eval_batch_size, size=self.size,
                              process_index=self.pi, process_count=self.pc, num_threads=self.config.data.num_threads):
      sums = sums + jnp.stack(self._eval(state, self._global(local), with_corruption))
    return np.asarray(sums) / len(indices)

  def evaluate(self, state) -> list[dict[str, float]]:
    _, train_top1, _ = self._evaluate(state, self.train_source, self.eval_train, True)
    test_loss, test_top1, test_top5 = self._evaluate(state, self.val_source, self.eval_val, False)
    return [{"train_top1": float(train_top1), "test_loss": float(test_loss), "test_top1": float(test_top1),
             "test_top5": float(test_top5)}]

  def learning_rate(self, step: int) -> float:
    return float(self._schedule(step))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike | None = None, *,
                       train_source: JpegDirectory | TfdsSource | None = None,
                       val_source: JpegDirectory | TfdsSource | None = None) -> dict:
  """Trains Inception V3 (or any model of :mod:`rethink_jax.models`) on a streamed ImageNet.

  The run directory is the same as for CIFAR-10 (:mod:`rethink_jax.records`), written by
  the same loop (:func:`rethink_jax.loop.run`): ``config.json``, ``metrics.jsonl`` (rows
  with ``train_top1``, ``test_loss``, ``test_top1``, ``test_top5`` at evaluations),
  ``summary.json`` (time to fit watches ``train_top1``), orbax checkpoints, TensorBoard
  events; a killed run resumes from its last checkpoint and replays the same batches;
  another config is refused.

  Args:
    config: see ``rethink_jax/configs/imagenet.py``.
    workdir: the run directory (default ``config.workdir``).
    train_source: a source to use instead of ``config.data`` for training (tests, subsets).
    val_source: the same for evaluation.

  Returns:
    The summary written to ``summary.json``.
  """
  workdir, done = loop.begin(config, workdir, "imagenet")
  if done is not None:
    return done
  train_source = train_source if train_source is not None else open_source(config, "train")
  val_source = val_source if val_source is not None else open_source(config, "val")
  num_classes, size = train_source.num_classes, config.data.image_size
  keys = train.stream_keys(config.seed)
  mesh = train.make_mesh()
  validate.check_batch(config, len(train_source), mesh.size)
  with loop.owned(workdir):
    graphdef, state = train.create_train_state(config, keys["init"], (size, size, 3), num_classes)
    n_params = models.count_params(state.params)
    state = train.replicate(mesh, state)
    program = _ImagenetProgram(config, mesh, graphdef, keys, train_source, val_source, num_classes)
    kind = config.corruption.kind
    dataset = train_source.provenance + ("" if kind == "true_labels" else f" | corrupted: {kind}")
    run = loop.Run(workdir=workdir, config=config, corruption=corruption_record(config, keys["corruption"]),
                   dataset=dataset, num_params=n_params,
                   record={"input_shape": [size, size, 3], "num_classes": num_classes, "val": val_source.provenance,
                           "num_train": len(train_source), "num_test": len(val_source), "mesh": {"data": mesh.size}})
    return loop.run(program, state, [run], workdir / records.CHECKPOINTS)[0]
