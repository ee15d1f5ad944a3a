"""ImageNet input pipelines for Table 2 and Figure 2a of the paper: a source's examples,
preprocessed (:mod:`rethink_jax.imagenet.preprocess`), in this host's share of each global
batch.

grain's ``MapDataset`` over positions of the training stream, decoded and preprocessed by a
thread pool. The order of epoch ``e`` is a permutation drawn from ``(seed, e)``; global batch
``s`` is positions ``s*B .. (s+1)*B - 1`` and each host reads its own contiguous
``B / num_hosts`` of them; augmentation draws come from ``(seed, position)``. So every host,
thread count and resume sees the same examples and the same crops. grain was chosen over
``tf.data`` because it needs no TensorFlow, reads ``tfds.data_source`` directly and indexes
deterministically.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator

import numpy as np

from rethink_jax.imagenet.preprocess import IMAGE_SIZE, preprocess_eval, preprocess_train
from rethink_jax.preprocess import check_int


def _host(process_index, process_count: int, fn: str) -> int:
  """``process_index`` as an int in ``[0, process_count)``: another would read other hosts' examples."""
  process_index = check_int(process_index, fn, "process_index", 0)
  if process_index >= process_count:
    raise ValueError(f"{fn}: process_index must be in [0, {process_count}) (process_count = {process_count}), got "
                     f"{process_index}.")
  return process_index


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

  fn = "train_batches"
  global_batch = check_int(global_batch, fn, "global_batch")
  process_count = check_int(process_count, fn, "process_count")
  process_index = _host(process_index, process_count, fn)
  seed, start_step = check_int(seed, fn, "seed", 0), check_int(start_step, fn, "start_step", 0)
  num_steps, size = check_int(num_steps, fn, "num_steps", 0), check_int(size, fn, "size")
  num_threads = check_int(num_threads, fn, "num_threads")
  n = len(source)
  if global_batch % process_count:
    raise ValueError(f"train_batches: global batch {global_batch} is not divisible by {process_count} hosts.")
  local = global_batch // process_count
  per_epoch = (n // global_batch) * global_batch
  if per_epoch == 0:
    raise ValueError(f"train_batches: global batch {global_batch} exceeds the {n} training examples.")

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

  fn = "eval_batches"
  batch, process_count = check_int(batch, fn, "batch"), check_int(process_count, fn, "process_count")
  process_index, size = _host(process_index, process_count, fn), check_int(size, fn, "size")
  num_threads = check_int(num_threads, fn, "num_threads")
  if batch % process_count:  # each host's share would round down and the examples between them never be read
    raise ValueError(f"eval_batches: batch {batch} is not divisible by {process_count} hosts.")
  indices = np.asarray(indices)
  if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
    raise ValueError(f"eval_batches: indices must be a 1-D array of example indices, got {indices.dtype} of shape "
                     f"{indices.shape}.")
  if indices.size and (indices.min() < 0 or indices.max() >= len(source)):  # -1 would read the last example
    raise ValueError(f"eval_batches: indices must lie in [0, {len(source)}) (the source's examples), got "
                     f"[{indices.min()}, {indices.max()}].")
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
