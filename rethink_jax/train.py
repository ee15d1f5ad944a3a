"""The compiled training engine (Zhang et al., 2017, Section 2 and Appendix A).

One pure step, ``train_step(state, batch) -> (state, metrics)``, jitted once with the
state donated; SGD with momentum from optax, the learning rate decayed by ``lr_decay``
per ``decay_examples`` examples seen (0.95 per 50,000, i.e. per CIFAR-10 epoch, so the
paper's schedule means the same on the embedded sample as on the full set), weight decay
as an explicit L2 term in the loss.

Data parallelism is one code path on any number of devices: a ``jax.sharding.Mesh`` with
a ``data`` axis, the batch split along it, parameters replicated, BatchNorm statistics
over the global batch (the mean over the sharded batch axis is a global mean). The
dataset is put on the devices once; each epoch's order is
``permutation(fold_in(shuffle_key, epoch))``; batches are gathered inside compiled code;
the host reads metrics only at log intervals; the last partial batch of an epoch is
**dropped** (``steps_per_epoch = n // batch_size``), so no step has another shape.

Keys: one root key per run, ``jax.random.key(seed)``; streams by ``fold_in``: corruption,
init, shuffle, dropout (:data:`STREAMS`); the dropout key of step ``s`` is
``fold_in(dropout_stream, s)``, so a resumed run replays exactly.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import NamedSharding, PartitionSpec as P

from rethink_jax import augment, checkpoint, corruptions, data as data_lib, loop, models, preprocess, records, subsets
from rethink_jax.configs import schema
from rethink_jax import validation

__all__ = ["TrainState", "STREAMS", "stream_keys", "make_mesh", "lr_schedule", "create_train_state",
           "make_train_step", "DataStepper", "StepSums", "make_eval_fn", "train_and_evaluate", "NonFiniteLossError",
           "ConfigMismatchError", "build_model", "make_optimizer", "forward", "replicate", "put_replicated",
           "make_input_fn", "DeviceData", "load_dataset", "corrupt", "restore_state", "per_example_outputs",
           "gather_examples", "examples_record", "run_stream_keys", "subset_mask", "split_sums",
           "split_means", "prediction_arrays", "subset_record"]

STREAMS = {"corruption": 0, "init": 1, "shuffle": 2, "dropout": 3, "augment": 4, "subset": 5}


# Shared with the loop and the run records; exported here for the engine's users.
NonFiniteLossError = loop.NonFiniteLossError
ConfigMismatchError = records.ConfigMismatchError
StepSums = loop.StepSums


class TrainState(struct.PyTreeNode):
  """Everything that changes during training; a pytree, checkpointed whole."""

  step: jax.Array
  params: Any
  model_state: Any   # BatchNorm running statistics (empty for models without BN)
  opt_state: Any


def stream_keys(seed: int, index: int = 0) -> dict[str, jax.Array]:
  """The run's independent key streams, ``fold_in(key(seed), id)`` for each name in STREAMS.

  ``index`` (``config.subset.index``) > 0 draws every stream but ``"corruption"`` from
  ``fold_in(stream, index)``: the runs of a group of subset-trained runs share their label
  noise and differ in their subsets, initialisations and data orders. Index 0 is the
  streams of ``seed`` alone."""
  root = jax.random.key(seed)
  keys = {name: jax.random.fold_in(root, i) for name, i in STREAMS.items()}
  if index:
    keys = {name: k if name == "corruption" else jax.random.fold_in(k, index) for name, k in keys.items()}
  return keys


def run_stream_keys(config) -> dict[str, jax.Array]:
  """:func:`stream_keys` of a run's config (``seed`` and ``subset.index``)."""
  return stream_keys(config.seed, schema.setting(config, "subset.index"))


def subset_mask(config, num_train: int, keys: dict[str, jax.Array]) -> np.ndarray | None:
  """The run's training subset as a ``[num_train]`` bool mask, or None when it trains on all
  of it (``subset.ratio`` = 1); drawn from its ``"subset"`` stream."""
  ratio = schema.setting(config, "subset.ratio")
  return None if ratio == 1.0 else np.asarray(subsets.draw_mask(keys["subset"], num_train, ratio))


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh over all (global) devices with axis ``data``; a mesh of one on a laptop."""
  devices = jax.devices() if devices is None else devices
  # Auto axes: the compiler partitions from the sharding constraints on the batch.
  return jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def lr_schedule(lr: float, decay: float, decay_examples: int, batch_size: int) -> optax.Schedule:
  """``lr * decay ** floor(examples_seen / decay_examples)``: the paper's per-epoch decay."""
  def schedule(step):
    return lr * decay ** jnp.floor(step * batch_size / decay_examples)
  return schedule


def _compute_dtype(name: str):
  try:
    return {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[name]
  except KeyError:
    raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', got {name!r}.") from None


def build_model(config: ml_collections.ConfigDict, key: jax.Array, input_shape, num_classes: int) -> nnx.Module:
  """The network ``config.model`` (Table 1's, or Inception V3), initialised from ``key``."""
  return models.create(config.model, num_classes=num_classes, rngs=nnx.Rngs(params=key),
                       input_shape=input_shape, dropout=config.dropout,
                       dtype=_compute_dtype(config.compute_dtype), conv_impl=config.conv_impl)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """SGD with momentum and the paper's decaying learning rate (Appendix A)."""
  o = config.optim
  return optax.sgd(lr_schedule(o.lr, o.lr_decay, o.decay_examples, config.batch_size), momentum=o.momentum)


def create_train_state(config, key, input_shape, num_classes) -> tuple[nnx.GraphDef, TrainState]:
  """The model's graph definition and its initial :class:`TrainState` (step 0)."""
  model = build_model(config, key, input_shape, num_classes)
  graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
  opt_state = make_optimizer(config).init(params)
  return graphdef, TrainState(step=jnp.zeros((), jnp.int32), params=params, model_state=model_state,
                              opt_state=opt_state)


def l2_penalty(params) -> jax.Array:
  """``0.5 * sum ||W||^2`` over weight matrices and kernels (biases and BN offsets excluded)."""
  leaves = [x for x in jax.tree_util.tree_leaves(params) if x.ndim > 1]
  return 0.5 * sum(jnp.sum(jnp.square(x)) for x in leaves)


def forward(graphdef, params, model_state, images, train: bool, dropout_key):
  """Logits of the model ``graphdef`` with ``params`` and ``model_state``, and its updated
  non-parameter state (BatchNorm statistics in training mode)."""
  model = nnx.merge(graphdef, params, model_state, copy=True)
  logits = model(images, train=train, dropout_key=dropout_key)
  return logits, nnx.state(model, nnx.Not(nnx.Param))


def make_train_step(graphdef: nnx.GraphDef, config: ml_collections.ConfigDict, dropout_stream: jax.Array
                    ) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
  """The pure train step ``(state, batch) -> (state, metrics)`` (not yet jitted).

  ``batch`` holds ``image`` (``[B, H, W, C]`` float, preprocessed) and ``label`` (``[B]``).
  Metrics: ``loss`` (cross-entropy, without the L2 term), ``accuracy`` (on the batch),
  ``lr``.
  """
  tx = make_optimizer(config)
  weight_decay = config.optim.weight_decay
  schedule = lr_schedule(config.optim.lr, config.optim.lr_decay, config.optim.decay_examples, config.batch_size)

  def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    dropout_key = jax.random.fold_in(dropout_stream, state.step)

    def loss_fn(params):
      logits, new_model_state = forward(graphdef, params, state.model_state, batch["image"], True, dropout_key)
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
      loss = ce + weight_decay * l2_penalty(params) if weight_decay else ce
      return loss, (ce, logits, new_model_state)

    grads, (ce, logits, new_model_state) = jax.grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": ce, "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
               "lr": schedule(state.step)}
    return state.replace(step=state.step + 1, params=params, model_state=new_model_state,
                         opt_state=opt_state), metrics

  return train_step


class DeviceData(NamedTuple):
  """A split on the devices, replicated: images as stored (uint8 or float) and labels; for the
  training split of a subset-trained run, ``weights`` (1.0 for the examples of its subset, 0.0
  for those held out)."""
  x: jax.Array
  y: jax.Array
  weights: jax.Array | None = None


def _replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def replicate(mesh, tree):
  """Places a pytree of arrays (a train state) replicated on every device of the mesh."""
  return jax.device_put(tree, _replicated(mesh))


def put_replicated(mesh, array: np.ndarray) -> jax.Array:
  """Puts a host array, identical on every process, on all devices of the mesh."""
  return jax.make_array_from_process_local_data(_replicated(mesh), np.asarray(array))


def make_input_fn(config) -> Callable[..., jax.Array]:
  """Stored images -> model inputs: the paper's preprocessing (Appendix A).

  ``input_fn(images, key=None)``: with a key (training) the configured augmentations
  apply: a random crop instead of the centre crop, random flips, random rotations
  (Table 1 and the Appendix); without a key (evaluation), the centre crop.
  """
  crop = config.data.crop
  aug = config.augment

  def input_fn(images, key=None):
    x = preprocess.to_unit(images)
    if key is not None and aug.random_crop:
      x = augment.random_crop(jax.random.fold_in(key, 0), x, crop)
    else:
      x = preprocess.center_crop(x, crop)
    if key is not None and aug.flip:
      x = augment.random_flip(jax.random.fold_in(key, 1), x)
    if key is not None and aug.rotate_degrees:
      x = augment.random_rotation(jax.random.fold_in(key, 2), x, aug.rotate_degrees)
    return preprocess.per_image_standardization(x)
  return input_fn


class DataStepper:
  """Runs train steps on a split that lives on the devices.

  ``step(state, data, perm, sums)`` is one jitted call (state and sums donated): it reads
  the batch indices for ``state.step`` from the epoch's permutation, gathers and
  preprocesses the batch on device, shards it over the mesh's ``data`` axis and applies
  ``train_step``. :meth:`run` dispatches ``num_steps`` of them from Python without reading
  anything back (dispatch is asynchronous), and computes each epoch's permutation
  ``permutation(fold_in(shuffle_stream, epoch), n)`` once, on device. With ``indices`` (a
  run's training subset, :func:`subset_mask`), epochs are over those ``m`` examples only:
  ``indices[permutation(fold_in(shuffle_stream, epoch), m)]``, the batches a run on
  ``x[indices]`` alone would see.

  Why not ``lax.fori_loop`` over steps: on XLA:CPU a convolutional step inside a while
  loop ran about 12x slower than the same step called directly (measured on Inception
  small, batch 32, 2 cores); dispatching steps one by one costs microseconds.
  """

  def __init__(self, train_step, config, mesh, shuffle_stream: jax.Array, num_train: int,
               augment_stream: jax.Array | None = None, indices: np.ndarray | None = None):
    if indices is not None:
      num_train = len(indices)
    self.batch_size = config.batch_size
    self.steps_per_epoch = num_train // config.batch_size
    self.num_train = num_train
    self.mesh = mesh
    input_fn = make_input_fn(config)
    batch_sharding = NamedSharding(mesh, P("data"))
    steps_per_epoch, batch_size = self.steps_per_epoch, self.batch_size

    def step(state: TrainState, data: DeviceData, perm: jax.Array, sums: StepSums):
      start = (state.step % steps_per_epoch) * batch_size
      idx = jax.lax.with_sharding_constraint(jax.lax.dynamic_slice(perm, (start,), (batch_size,)), batch_sharding)
      aug_key = None if augment_stream is None else jax.random.fold_in(augment_stream, state.step)
      images = jax.lax.with_sharding_constraint(input_fn(data.x[idx], aug_key), batch_sharding)
      new_state, m = train_step(state, {"image": images, "label": data.y[idx]})
      return new_state, loop.add_step(sums, m, state.step)

    self.step = jax.jit(step, donate_argnums=(0, 3))
    order = None if indices is None else put_replicated(mesh, np.asarray(indices, np.int32))

    def permutation(epoch):
      perm = jax.random.permutation(jax.random.fold_in(shuffle_stream, epoch), num_train)
      return perm if order is None else order[perm]

    self.permutation = jax.jit(permutation, out_shardings=_replicated(mesh))
    self._perm_epoch, self._perm = None, None

  def epoch_permutation(self, epoch: int) -> jax.Array:
    """The order of the training examples in ``epoch`` (drawn from the shuffle stream, kept
    until the epoch changes)."""
    if epoch != self._perm_epoch:
      self._perm_epoch, self._perm = epoch, self.permutation(jnp.asarray(epoch, jnp.int32))
    return self._perm

  def run(self, state: TrainState, data: DeviceData, first_step: int, num_steps: int,
          sums: StepSums | None = None) -> tuple[TrainState, StepSums]:
    """``num_steps`` steps from ``first_step`` (the host's copy of ``state.step``)."""
    sums = replicate(self.mesh, StepSums.zeros()) if sums is None else sums
    for s in range(first_step, first_step + num_steps):
      state, sums = self.step(state, data, self.epoch_permutation(s // self.steps_per_epoch), sums)
    return state, sums


def per_example_outputs(logits: jax.Array, labels: jax.Array, clean_labels: jax.Array) -> dict[str, jax.Array]:
  """What ``config.track_examples`` records of each evaluated example (inside compiled code):
  ``correct`` (predicted = training label), ``pred_is_clean_label`` (predicted = clean label)
  and ``margin``, the training label's logit minus the largest other logit (> 0 when correct)."""
  pred = jnp.argmax(logits, -1)
  own = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
  return {"correct": pred == labels, "pred_is_clean_label": pred == clean_labels,
          "margin": (own - jnp.max(others, axis=-1)).astype(jnp.float32)}


def split_sums(logits: jax.Array, labels: jax.Array, mask: jax.Array, weights: jax.Array | None) -> tuple:
  """Cross-entropy and correct-prediction sums of an evaluation batch (``mask``: 0 for its
  padding): ``(loss, correct)``, or with ``weights`` (a subset-trained run's 1/0 per example)
  ``(loss, correct, heldout_loss, heldout_correct)``, the first two over the subset."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  hit = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
  if weights is None:
    return jnp.sum(ce * mask), jnp.sum(hit * mask)
  w_in, w_out = mask * weights, mask * (1.0 - weights)
  return jnp.sum(ce * w_in), jnp.sum(hit * w_in), jnp.sum(ce * w_out), jnp.sum(hit * w_out)


def split_means(totals: tuple, n: int, n_in: float | np.ndarray | None) -> dict:
  """:func:`split_sums` totals over a split of ``n`` examples, ``n_in`` of them in the run's
  subset (None: no subset) -> ``{loss, accuracy[, heldout_loss, heldout_accuracy]}``."""
  if n_in is None:
    return {"loss": totals[0] / n, "accuracy": totals[1] / n}
  n_out = np.maximum(n - np.asarray(n_in), 1.0)  # n_in: a number, or [K] for K vmapped runs
  return {"loss": totals[0] / n_in, "accuracy": totals[1] / n_in, "heldout_loss": totals[2] / n_out,
          "heldout_accuracy": totals[3] / n_out}


def gather_examples(chunks: list[dict], n: int) -> dict[str, np.ndarray]:
  """Per-batch per-example outputs (device arrays, run axis first or not) -> host arrays of the
  first ``n`` examples along the last axis (the last batch's padding dropped)."""
  host = jax.device_get(chunks)
  return {k: np.concatenate([c[k] for c in host], axis=-1)[..., :n] for k in host[0]}


def make_eval_fn(graphdef, config, mesh, eval_batch_size: int):
  """Evaluation of a whole split on device: ``(state, data, clean_labels=None) -> {loss, accuracy}``.

  The split is walked in batches of ``eval_batch_size`` by one jitted batch function; the
  last batch is padded by repeating an index and masked, so any split size compiles once.
  With ``clean_labels`` (``[n]`` on the devices) the result also holds ``examples``: the
  :func:`per_example_outputs` of every example as host arrays, from a second batch function
  (compiled once too). With ``data.weights`` (a run's subset), ``loss`` and ``accuracy`` are
  over the subset and ``heldout_loss`` and ``heldout_accuracy`` over the examples held out.
  """
  input_fn = make_input_fn(config)
  batch_sharding = NamedSharding(mesh, P("data"))

  def batch_logits(state: TrainState, data: DeviceData, start: jax.Array):
    n = data.y.shape[0]
    pos = start + jnp.arange(eval_batch_size)
    idx = jax.lax.with_sharding_constraint(jnp.minimum(pos, n - 1), batch_sharding)
    logits, _ = forward(graphdef, state.params, state.model_state, input_fn(data.x[idx]), False, None)
    return logits, idx, (pos < n).astype(jnp.float32)

  @jax.jit
  def batch_sums(state: TrainState, data: DeviceData, start: jax.Array):
    logits, idx, mask = batch_logits(state, data, start)
    return split_sums(logits, data.y[idx], mask, None if data.weights is None else data.weights[idx])

  @jax.jit
  def batch_examples(state: TrainState, data: DeviceData, start: jax.Array, clean_labels: jax.Array):
    logits, idx, mask = batch_logits(state, data, start)
    per_example = per_example_outputs(logits, data.y[idx], clean_labels[idx])
    # replicated, so every process (of many hosts) can read the whole batch back
    per_example = jax.lax.with_sharding_constraint(per_example, _replicated(mesh))
    return split_sums(logits, data.y[idx], mask, None if data.weights is None else data.weights[idx]), per_example

  def evaluate(state: TrainState, data: DeviceData, clean_labels: jax.Array | None = None) -> dict:
    n = int(data.y.shape[0])
    totals, chunks = None, []
    for start in range(0, n, eval_batch_size):
      at = jnp.asarray(start, jnp.int32)
      if clean_labels is None:
        batch = batch_sums(state, data, at)
      else:
        batch, per_example = batch_examples(state, data, at, clean_labels)
        chunks.append(per_example)
      totals = batch if totals is None else jax.tree.map(jnp.add, totals, batch)
    out = split_means(totals, n, None if data.weights is None else float(jnp.sum(data.weights)))
    if chunks:
      out["examples"] = gather_examples(chunks, n)
    return out

  evaluate.batch_sums = batch_sums
  return evaluate


def prediction_arrays(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """A run's :func:`per_example_outputs` on the training and test sets -> the outputs
  ``predictions.npz`` keeps (:data:`rethink_jax.records.PREDICTION_ARRAYS`, labels aside)."""
  return {"train_correct": train["correct"], "train_margin": train["margin"],
          "train_pred_is_clean_label": train["pred_is_clean_label"], "test_correct": test["correct"],
          "test_margin": test["margin"]}


def subset_record(mask: np.ndarray, ds: data_lib.Dataset, clean_y_train: np.ndarray) -> dict:
  """What the loop keeps of a subset-trained run (:class:`rethink_jax.loop.Run`'s ``subset``):
  its mask, and the labels its ``predictions.npz`` holds beside the outputs."""
  return {"mask": mask, "labels": np.asarray(ds.y_train), "clean_labels": np.asarray(clean_y_train),
          "test_labels": np.asarray(ds.y_test)}


def examples_record(labels: np.ndarray, clean_labels: np.ndarray) -> dict[str, np.ndarray]:
  """The per-example arrays fixed for a tracked run (``examples.npz``'s ``corrupted``,
  ``labels``, ``clean_labels``)."""
  labels, clean_labels = np.asarray(labels), np.asarray(clean_labels)
  return {"corrupted": labels != clean_labels, "labels": labels, "clean_labels": clean_labels}


# ----------------------------------------------------------------------------- the run

def clean_labels(ds: data_lib.Dataset) -> np.ndarray:
  """The clean training labels of ``ds``: those it was given with (``clean_y_train``), or its labels."""
  return ds.y_train if ds.clean_y_train is None else ds.clean_y_train


def run_dataset(config, workdir, dataset: data_lib.Dataset | None) -> data_lib.Dataset:
  """The data a run trains on: ``config.data`` loaded, or ``dataset``; checked before anything
  is written. Your own arrays (``data.source = "arrays"``) must be given, under the name
  ``data.name``, and a run directory that trained on other arrays is refused."""
  if config.data.source != "arrays":
    return load_dataset(config) if dataset is None else dataset
  if dataset is None:
    raise validation.ConfigError("config.data.source = 'arrays': pass the arrays as dataset= "
                                 "(rethink_jax.data.from_arrays(...)).")
  if dataset.name != config.data.name:
    raise validation.ConfigError(f"config.data.name = {config.data.name!r} but the dataset given is named "
                                 f"{dataset.name!r}; they must agree (the name is part of the run's identity).")
  validation.check_data(config, len(dataset.y_train), len(dataset.y_test), dataset.x_train.shape[1:])
  saved = pathlib.Path(workdir) / records.CONFIG
  if saved.exists():
    before = records.read_json(saved).get("dataset", "").split(" | corrupted")[0]
    if before and before != dataset.provenance:
      raise records.ConfigMismatchError(f"{workdir} holds a run on other arrays ({before}); refusing to resume it "
                                        f"on {dataset.provenance}. Use another --workdir.")
  return dataset


def load_dataset(config) -> data_lib.Dataset:
  """The dataset ``config.data`` names, cut to ``data.max_train`` / ``data.max_test`` examples
  (the first ones, in canonical order: a fixed subset for quick runs)."""
  ds = data_lib.load(config.data.name, source=config.data.source, data_dir=config.data.data_dir or None)
  validation.check_data(config, len(ds.y_train), len(ds.y_test), ds.x_train.shape[1:])
  n_train, n_test = config.data.max_train, config.data.max_test
  if n_train or n_test:
    ds = dataclasses.replace(
        ds, x_train=ds.x_train[:n_train or None], y_train=ds.y_train[:n_train or None],
        clean_y_train=None if ds.clean_y_train is None else ds.clean_y_train[:n_train or None],
        x_test=ds.x_test[:n_test or None], y_test=ds.y_test[:n_test or None],
        provenance=ds.provenance + (f" | first {n_train} train" if n_train else "")
        + (f" | first {n_test} test" if n_test else ""))
  return ds


def corrupt(config, ds: data_lib.Dataset, key: jax.Array) -> tuple[data_lib.Dataset, corruptions.CorruptionRecord]:
  """``config.corruption`` applied once to the whole dataset (Section 2)."""
  c = config.corruption
  p = c.p if c.kind in corruptions.kinds(takes_p=True) else None
  human = c.kind == "cifar10n"
  try:
    return corruptions.apply(key, ds, c.kind, p=p, variant=c.variant if human else None,
                             labels_file=c.labels_file if human else None, corrupt_test=c.corrupt_test)
  except (ValueError, FileNotFoundError) as e:  # the data or label file does not fit the config
    raise validation.ConfigError(f"config.corruption ({c.kind}): {e}") from None


class _SingleProgram:
  """One run on a dataset that lives on the devices (the loop's :class:`~rethink_jax.loop.Program`)."""

  engine, num_runs, fit_metric = "single", 1, "train_accuracy"

  def __init__(self, config, mesh, stepper: DataStepper, evaluate, train_data: DeviceData, test_data: DeviceData,
               clean_labels: jax.Array | None = None, clean_for_predictions: jax.Array | None = None):
    self.mesh, self.stepper, self._evaluate = mesh, stepper, evaluate
    self.train_data, self.test_data, self.clean_labels = train_data, test_data, clean_labels
    self._clean_for_predictions = clean_for_predictions
    self.steps_per_epoch, self.batch_size = stepper.steps_per_epoch, config.batch_size
    o = config.optim
    self._schedule = lr_schedule(o.lr, o.lr_decay, o.decay_examples, config.batch_size)

  def zero_sums(self) -> StepSums:
    return replicate(self.mesh, StepSums.zeros())

  def train(self, state, sums, first_step, num_steps, active):
    del active  # one run: the loop stops it
    return self.stepper.run(state, self.train_data, first_step, num_steps, sums)

  def evaluate(self, state) -> list[dict[str, float]]:
    tr = self._evaluate(state, self.train_data, self.clean_labels)
    te = self._evaluate(state, self.test_data)
    out = {"train_loss": float(tr["loss"]), "train_accuracy": float(tr["accuracy"]),
           "test_loss": float(te["loss"]), "test_accuracy": float(te["accuracy"])}
    if "heldout_accuracy" in tr:
      out.update(heldout_loss=float(tr["heldout_loss"]), heldout_accuracy=float(tr["heldout_accuracy"]))
    if "examples" in tr:
      out["examples"] = tr["examples"]
    return [out]

  def predictions(self, state) -> list[dict[str, np.ndarray]]:
    """Every example's outputs on the whole training set and the test set (``predictions.npz``)."""
    return [prediction_arrays(self._evaluate(state, self.train_data, self._clean_for_predictions)["examples"],
                              self._evaluate(state, self.test_data, self.test_data.y)["examples"])]

  def learning_rate(self, step: int) -> float:
    return float(self._schedule(step))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | None = None, *,
                       dataset: data_lib.Dataset | None = None) -> dict:
  """Trains one run to the end (or to fit), writing and resuming its run directory.

  Everything is checked before anything is written: the config
  (:func:`rethink_jax.validation.check`), the run directory (a run with another
  identity, or checkpoints without their ``config.json``, raise
  :class:`ConfigMismatchError`), the data and the batch size. A run directory that already
  holds this run, finished, returns its summary without training; unfinished, it resumes
  from its last checkpoint. The loop itself is :func:`rethink_jax.loop.run`.

  Args:
    config: see ``rethink_jax/configs/``; ``config.workdir`` is used when ``workdir`` is None.
    workdir: the run directory.
    dataset: the data to train on. With ``config.data.source = "arrays"``, your own arrays
      (:func:`rethink_jax.data.from_arrays`, named ``config.data.name``); otherwise arrays
      derived from ``config.data`` (a subset, other labels). ``config.corruption`` is
      applied to it; its provenance goes into the run record, and a run directory does not
      resume on arrays with another provenance.

  Returns:
    The summary written to ``summary.json`` (schema: :data:`rethink_jax.records.SUMMARY_FIELDS`).
  """
  workdir, done = loop.begin(config, workdir, "single")
  if done is not None:
    return done

  keys = run_stream_keys(config)
  ds = run_dataset(config, workdir, dataset)
  clean_y_train = clean_labels(ds)
  ds, corruption = corrupt(config, ds, keys["corruption"])
  n_train = len(ds.y_train)
  mesh = make_mesh()
  validation.check_batch(config, n_train, mesh.size)
  mask = subset_mask(config, n_train, keys)
  with loop.owned(workdir):  # one process per run directory, from its first write to the end
    input_shape = (config.data.crop, config.data.crop, ds.x_train.shape[-1])
    graphdef, state = create_train_state(config, keys["init"], input_shape, ds.num_classes)
    n_params = models.count_params(state.params)
    state = replicate(mesh, state)
    weights = None if mask is None else put_replicated(mesh, mask.astype(np.float32))
    train_data = DeviceData(put_replicated(mesh, ds.x_train), put_replicated(mesh, ds.y_train), weights)
    test_data = DeviceData(put_replicated(mesh, ds.x_test), put_replicated(mesh, ds.y_test))
    stepper = DataStepper(make_train_step(graphdef, config, keys["dropout"]), config, mesh, keys["shuffle"], n_train,
                          augment_stream=keys["augment"], indices=None if mask is None else subsets.mask_indices(mask))
    track = config.track_examples
    clean_on_device = put_replicated(mesh, clean_y_train) if track or mask is not None else None
    program = _SingleProgram(config, mesh, stepper, make_eval_fn(graphdef, config, mesh, config.eval_batch_size),
                             train_data, test_data, clean_on_device if track else None, clean_on_device)
    run = loop.Run(workdir=workdir, config=config, corruption=corruption.to_dict(), dataset=ds.provenance,
                   num_params=n_params, examples=examples_record(ds.y_train, clean_y_train) if track else None,
                   record={"input_shape": list(input_shape), "num_classes": ds.num_classes, "num_train": n_train,
                           "num_test": len(ds.y_test), "mesh": {"data": mesh.size}},
                   subset=None if mask is None else subset_record(mask, ds, clean_y_train))
    return loop.run(program, state, [run], workdir / records.CHECKPOINTS)[0]


def restore_state(workdir, config=None, step: int | None = None) -> TrainState:
  """Loads the train state of a finished or interrupted run (for analysis).

  The model is rebuilt from the run's ``config.json`` (input shape and class count
  included), so this works for runs trained on a caller-provided ``dataset`` too.
  """
  workdir = pathlib.Path(workdir)
  saved = records.read_json(workdir / records.CONFIG)
  if config is None:  # a record from before a key existed holds the key's declared default
    config = schema.complete(saved["config"])
  _, state = create_train_state(config, run_stream_keys(config)["init"], tuple(saved["input_shape"]),
                                saved["num_classes"])
  ckpt = checkpoint.Checkpoints(workdir / records.CHECKPOINTS, records.identity_hash(config),
                                keep=config.keep_checkpoints)
  try:
    return ckpt.restore_state(state, step)
  finally:
    ckpt.close()
