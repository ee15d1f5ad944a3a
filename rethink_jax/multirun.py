"""Many runs in one compiled program: the paper's sweeps with ``jax.vmap`` over the run axis.

The paper's study is many runs of the same small network that differ only in their labels
(the label-corruption sweep of Figures 1b/1c) or their seeds (error bars). ``train_many``
trains K such runs as one program: parameters, optimizer state, BatchNorm statistics,
labels and key streams carry a leading run axis; the images live on the devices once and
are shared. Every run keeps its own data order, dropout and augmentation keys (functions
of its seed, as when it trains alone), its own time to fit, and writes its own run
directory, so reports cannot tell the two apart. A run that reaches its fit threshold
with ``stop_at_fit`` is frozen (its updates are masked) while the others go on, so its
final state is the one it would have stopped with.

Measured on 2 CPU cores: ``benchmarks/vmapped_sweep.py``; results in ``docs/results.md``.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from rethink_jax import corruptions, data as data_lib, loop, models, records, subsets, train
from rethink_jax import validation
from rethink_jax.configs import schema

__all__ = ["train_many", "make_vmapped_step", "VARYING_KEYS", "check_compatible", "group_key"]

# What may differ between the runs of one program; everything else must be equal.
VARYING_KEYS = ("seed", "corruption.kind", "corruption.p", "corruption.variant", "subset.index", "workdir")


def group_key(config: ml_collections.ConfigDict) -> str:
  """Configs with equal keys may train as one vmapped program (they differ only in :data:`VARYING_KEYS`)."""
  import json

  flat = schema.flatten(config.to_dict())
  return json.dumps({k: v for k, v in flat.items() if k not in VARYING_KEYS}, sort_keys=True, default=str)


def check_compatible(configs: Sequence[ml_collections.ConfigDict]) -> None:
  """Raises ``ValueError`` unless the runs differ only in :data:`VARYING_KEYS` and corrupt labels only."""
  if not configs:
    raise ValueError("train_many needs at least one config.")
  flat = [schema.flatten(c.to_dict()) for c in configs]
  for i, f in enumerate(flat[1:], 1):
    diff = sorted(k for k in set(f) | set(flat[0]) if k not in VARYING_KEYS and f.get(k) != flat[0].get(k))
    if diff:
      raise ValueError(f"Run {i} differs from run 0 in {diff}; one vmapped program needs the same model, data, "
                       f"optimizer and schedule (only {VARYING_KEYS} may differ).")
  for c in configs:
    if c.corruption.kind not in corruptions.kinds("labels"):
      raise ValueError(f"train_many shares the input images between runs: corruption {c.corruption.kind!r} "
                       f"changes inputs; use one of {corruptions.kinds('labels')}.")


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def make_vmapped_step(graphdef, config: ml_collections.ConfigDict, mesh, num_train: int):
  """The compiled step of K runs: ``(state, x_train, y_train, streams, perms, sums, active) -> (state, sums)``.

  ``state`` and ``sums`` carry a leading run axis K (donated); ``x_train`` ``[n, H, W, C]``
  is shared; ``y_train`` ``[K, n]``, ``perms`` ``[K, n]`` (each run's epoch order) and
  ``streams`` ``{"dropout", "augment"}`` (``[K, ...]`` key data) are per run; a run whose
  ``active`` is False keeps its state (it stopped at its fit).
  """
  steps_per_epoch, batch = num_train // config.batch_size, config.batch_size
  input_fn = train.make_input_fn(config)
  run_batch = NamedSharding(mesh, P(None, "data"))
  wrap = jax.random.wrap_key_data

  @functools.partial(jax.jit, donate_argnums=(0, 5))
  def step_fn(state, x_train, y_train, streams, perms, sums, active):
    steps = state.step                                                         # [K]
    idx = jax.vmap(lambda perm, s: jax.lax.dynamic_slice(perm, ((s % steps_per_epoch) * batch,), (batch,)))(
        perms, steps)
    idx = jax.lax.with_sharding_constraint(idx, run_batch)                     # [K, B]
    aug_keys = jax.vmap(lambda k, s: jax.random.fold_in(wrap(k), s))(streams["augment"], steps)
    images = jax.vmap(input_fn)(x_train[idx], aug_keys)
    labels = jnp.take_along_axis(y_train, idx, axis=1)

    def one(st, images, labels, dropout_stream):
      return train.make_train_step(graphdef, config, wrap(dropout_stream))(st, {"image": images, "label": labels})

    new, m = jax.vmap(one)(state, images, labels, streams["dropout"])
    keep = lambda a, b: jnp.where(active.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)  # frozen runs stay put
    return jax.tree.map(keep, new, state), loop.add_step(sums, m, steps, active)

  return step_fn


class _VmappedProgram:
  """K runs as one vmapped program (the loop's :class:`~rethink_jax.loop.Program`)."""

  engine, fit_metric = "vmapped", "train_accuracy"

  def __init__(self, c0, mesh, graphdef, ds, y_train_runs: np.ndarray, y_test_runs: np.ndarray, keys: list[dict],
               k_runs: int, clean_labels: np.ndarray | None = None, masks: np.ndarray | None = None):
    self.num_runs, self.mesh = k_runs, mesh
    n_train = len(ds.y_train)
    # a subset-trained group: every run's subset has the same size m, its epochs are over it
    m = n_train if masks is None else int(masks[0].sum())
    self.steps_per_epoch, self.batch_size = m // c0.batch_size, c0.batch_size
    o = c0.optim
    self._schedule = train.lr_schedule(o.lr, o.lr_decay, o.decay_examples, c0.batch_size)
    put = functools.partial(train.put_replicated, mesh)
    self.x_train, self.x_test = put(ds.x_train), put(ds.x_test)
    self.y_train = put(y_train_runs)                                                        # [K, n]
    self.y_test = put(y_test_runs)                                                          # [K, n_test]
    key_data = lambda name: put(np.stack([np.asarray(jax.random.key_data(k[name])) for k in keys]))
    self._streams = {"dropout": key_data("dropout"), "augment": key_data("augment")}
    self._shuffle_streams = key_data("shuffle")
    input_fn = train.make_input_fn(c0)
    wrap = jax.random.wrap_key_data
    self._step = make_vmapped_step(graphdef, c0, mesh, m)
    # each run's epoch order: a permutation of its own subset's indices (of all n without one)
    orders = put(np.stack([subsets.mask_indices(k) for k in masks]) if masks is not None
                 else np.arange(n_train, dtype=np.int32)[None].repeat(k_runs, 0))                # [K, m]
    self._permutations = jax.jit(jax.vmap(
        lambda k, order, epoch: order[jax.random.permutation(jax.random.fold_in(wrap(k), epoch), m)],
        in_axes=(0, 0, None)))
    self._orders = orders
    self._perm_epoch, self._perms = None, None

    def batch_outputs(state, x, y_runs, w_runs, start, clean):  # y_runs: [K, n]; w_runs: [K, n] or None
      n = x.shape[0]
      pos = start + jnp.arange(c0.eval_batch_size)
      idx = jnp.minimum(pos, n - 1)
      mask = (pos < n).astype(jnp.float32)
      images = input_fn(x[idx])  # shared by every run

      def one(st, y, w):
        logits, _ = train.forward(graphdef, st.params, st.model_state, images, False, None)
        sums = train.split_sums(logits, y[idx], mask, None if w is None else w[idx])
        return sums if clean is None else (sums, train.per_example_outputs(logits, y[idx], clean[idx]))
      return jax.vmap(one, in_axes=(0, 0, None if w_runs is None else 0))(state, y_runs, w_runs)

    self._eval_sums = jax.jit(lambda state, x, y_runs, w_runs, start: batch_outputs(state, x, y_runs, w_runs, start,
                                                                                    None))
    self._eval_examples = jax.jit(batch_outputs)
    self._eval_batch = c0.eval_batch_size
    self.clean_labels = None if clean_labels is None else put(clean_labels)
    self.weights = None if masks is None else put(masks.astype(np.float32))                 # [K, n]
    self._clean_for_predictions = None if masks is None else put(train.clean_labels(ds))

  def zero_sums(self) -> loop.StepSums:
    return train.replicate(self.mesh, loop.StepSums.zeros((self.num_runs,)))

  def train(self, state, sums, first_step, num_steps, active):
    active = jnp.asarray(active)
    for s in range(first_step, first_step + num_steps):
      if s // self.steps_per_epoch != self._perm_epoch:
        self._perm_epoch = s // self.steps_per_epoch
        self._perms = self._permutations(self._shuffle_streams, self._orders, jnp.asarray(self._perm_epoch, jnp.int32))
      state, sums = self._step(state, self.x_train, self.y_train, self._streams, self._perms, sums, active)
    return state, sums

  def _evaluate_split(self, state, x, y_runs, weights=None, clean=None) -> tuple[dict, dict | None]:
    """``({loss, accuracy[, heldout_*]}: [K] each, per-example arrays [K, n] with clean)``."""
    n = x.shape[0]
    totals, chunks = None, []
    for start in range(0, n, self._eval_batch):
      at = jnp.asarray(start, jnp.int32)
      if clean is None:
        batch = self._eval_sums(state, x, y_runs, weights, at)
      else:
        batch, per_example = self._eval_examples(state, x, y_runs, weights, at, clean)
        chunks.append(per_example)
      totals = batch if totals is None else jax.tree.map(jnp.add, totals, batch)
    n_in = None if weights is None else np.asarray(jnp.sum(weights, axis=1))
    means = {k: np.asarray(v) for k, v in train.split_means(totals, n, n_in).items()}
    return means, train.gather_examples(chunks, n) if chunks else None

  def evaluate(self, state) -> list[dict[str, float]]:
    tr, per_example = self._evaluate_split(state, self.x_train, self.y_train, self.weights, self.clean_labels)
    te, _ = self._evaluate_split(state, self.x_test, self.y_test)
    out = [{"train_loss": float(tr["loss"][k]), "train_accuracy": float(tr["accuracy"][k]),
            "test_loss": float(te["loss"][k]), "test_accuracy": float(te["accuracy"][k])} for k in range(self.num_runs)]
    if "heldout_accuracy" in tr:
      for k, row in enumerate(out):
        row.update(heldout_loss=float(tr["heldout_loss"][k]), heldout_accuracy=float(tr["heldout_accuracy"][k]))
    if per_example is not None:
      for k, row in enumerate(out):
        row["examples"] = {name: a[k] for name, a in per_example.items()}  # [K, n] -> run k's [n]
    return out

  def predictions(self, state) -> list[dict[str, np.ndarray]]:
    """Every run's outputs on the whole training set and the test set (``predictions.npz``)."""
    _, tr = self._evaluate_split(state, self.x_train, self.y_train, self.weights, self._clean_for_predictions)
    _, te = self._evaluate_split(state, self.x_test, self.y_test, None, self.y_test[0])
    return [train.prediction_arrays({k: a[i] for k, a in tr.items()}, {k: a[i] for k, a in te.items()})
            for i in range(self.num_runs)]

  def learning_rate(self, step: int) -> float:
    return float(self._schedule(step))


def train_many(configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence[str | pathlib.Path], *,
               group_dir: str | pathlib.Path, dataset: data_lib.Dataset | None = None) -> list[dict]:
  """Trains K runs as one vmapped program; each writes its own run directory.

  Args:
    configs: one config per run, equal except for :data:`VARYING_KEYS`.
    workdirs: one run directory per run (``config.json``, ``metrics.jsonl``, ``summary.json``,
      as :func:`rethink_jax.train.train_and_evaluate` writes them; times are the group's).
    group_dir: where the group's checkpoints go (the stacked train state), in a
      subdirectory named by the group's identity; a killed group resumes from there.
    dataset: arrays to use instead of loading ``configs[0].data``.

  Returns:
    The K summaries, in order.
  """
  for c in configs:
    validation.check(c, "vmapped")
  check_compatible(configs)
  if len(workdirs) != len(configs):
    raise ValueError(f"{len(configs)} configs but {len(workdirs)} workdirs.")
  c0, k_runs = configs[0], len(configs)
  workdirs = [pathlib.Path(w).expanduser() for w in workdirs]
  if len(set(map(str, workdirs))) != k_runs:
    raise ValueError("train_many needs one distinct run directory per run.")
  done = [records.finished_summary(wd, cfg) for cfg, wd in zip(configs, workdirs)]
  if all(d is not None for d in done):
    return [loop.already_finished(wd, cfg) for cfg, wd in zip(configs, workdirs)]

  ds = train.run_dataset(c0, workdirs[0], dataset)
  keys = [train.run_stream_keys(c) for c in configs]
  corrupted = [train.corrupt(c, ds, k["corruption"]) for c, k in zip(configs, keys)]
  mesh = train.make_mesh()
  validation.check_batch(c0, len(ds.y_train), mesh.size)
  masks = [train.subset_mask(c, len(ds.y_train), k) for c, k in zip(configs, keys)]
  # The group's checkpoints are keyed by what it computes (num_epochs and the like may change on resume).
  ckpt_dir = pathlib.Path(group_dir).expanduser() / records.identity_hash(*configs)
  with loop.owned(*workdirs, ckpt_dir):
    input_shape = (c0.data.crop, c0.data.crop, ds.x_train.shape[-1])
    built = [train.create_train_state(c, k["init"], input_shape, ds.num_classes) for c, k in zip(configs, keys)]
    graphdef = built[0][0]
    n_params = models.count_params(built[0][1].params)
    state = train.replicate(mesh, _stack([s for _, s in built]))
    del built
    track = c0.track_examples
    program = _VmappedProgram(c0, mesh, graphdef, ds, np.stack([d.y_train for d, _ in corrupted]),
                              np.stack([d.y_test for d, _ in corrupted]), keys, k_runs,
                              clean_labels=train.clean_labels(ds) if track else None,
                              masks=None if masks[0] is None else np.stack(masks))
    runs = [loop.Run(workdir=wd, config=cfg, corruption=rec.to_dict(), dataset=d.provenance, num_params=n_params,
                     examples=train.examples_record(d.y_train, train.clean_labels(ds)) if track else None,
                     record={"input_shape": list(input_shape), "num_classes": ds.num_classes,
                             "num_train": len(ds.y_train), "num_test": len(ds.y_test), "mesh": {"data": mesh.size}},
                     subset=None if mask is None else train.subset_record(mask, d, train.clean_labels(ds)))
            for cfg, wd, (d, rec), mask in zip(configs, workdirs, corrupted, masks)]
    return loop.run(program, state, runs, ckpt_dir)
