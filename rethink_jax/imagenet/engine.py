"""The ImageNet training engine for Table 2 and Figure 2a of the paper: Inception V3 trained
with and without augmentation, dropout and weight decay, and on random labels (Section 2),
on ImageNet streamed from the host (:mod:`rethink_jax.imagenet.pipeline`).

* :func:`train_and_evaluate` runs one Table 2 row through the shared loop
  (:func:`rethink_jax.loop.run`), into the same run directory as CIFAR-10.
* :func:`make_imagenet_step` is the compiled train step. **Label corruption** is applied
  inside it by example index (:func:`rethink_jax.corruptions.partial_labels_by_index`), so
  it is fixed once for the whole run, as the paper requires, without a table of 1.28
  million labels; :func:`corruption_record` is its entry in the run record.
* **Evaluation**: top-1 and top-5 (:func:`top_k_correct`) on the validation set, and top-1
  on a fixed subset of the (corrupted) training set, as Table 2 reports.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from rethink_jax import corruptions, loop, models, records, train
from rethink_jax import validation
from rethink_jax.imagenet.pipeline import eval_batches, train_batches
from rethink_jax.imagenet.preprocess import to_model_input
from rethink_jax.imagenet.sources import JpegDirectory, TfdsSource, open_source


def top_k_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """``[B]`` booleans: whether each label is among the ``k`` largest logits (all of them
  when there are fewer than ``k`` classes)."""
  _, top = jax.lax.top_k(logits, min(k, logits.shape[-1]))
  return jnp.any(top == labels[:, None], axis=-1)


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
  validation.check_batch(config, len(train_source), mesh.size)
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
