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
import hashlib
import json
import math
import pathlib
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from rethink_jax import corruptions, data as data_lib, models, records, train

__all__ = ["train_many", "VARYING_KEYS", "check_compatible"]

# What may differ between the runs of one program; everything else must be equal.
VARYING_KEYS = ("seed", "corruption.kind", "corruption.p", "workdir")


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def check_compatible(configs: Sequence[ml_collections.ConfigDict]) -> None:
  """Raises ``ValueError`` unless the runs differ only in :data:`VARYING_KEYS` and corrupt labels only."""
  if not configs:
    raise ValueError("train_many needs at least one config.")
  flat = [_flatten(c.to_dict()) for c in configs]
  for i, f in enumerate(flat[1:], 1):
    diff = sorted(k for k in set(f) | set(flat[0]) if k not in VARYING_KEYS and f.get(k) != flat[0].get(k))
    if diff:
      raise ValueError(f"Run {i} differs from run 0 in {diff}; one vmapped program needs the same model, data, "
                       f"optimizer and schedule (only {VARYING_KEYS} may differ).")
  for c in configs:
    if c.corruption.kind not in corruptions.LABEL_KINDS:
      raise ValueError(f"train_many shares the input images between runs: corruption {c.corruption.kind!r} "
                       f"changes inputs; use one of {corruptions.LABEL_KINDS}.")


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def train_many(configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence[str | pathlib.Path], *,
               group_dir: str | pathlib.Path, dataset: data_lib.Dataset | None = None) -> list[dict]:
  """Trains K runs as one vmapped program; each writes its own run directory.

  Args:
    configs: one config per run, equal except for :data:`VARYING_KEYS`.
    workdirs: one run directory per run (``config.json``, ``metrics.jsonl``, ``summary.json``,
      as :func:`rethink_jax.train.train_and_evaluate` writes them; times are the group's).
    group_dir: where the group's checkpoints go (the stacked train state); a killed group
      resumes from there.
    dataset: arrays to use instead of loading ``configs[0].data``.

  Returns:
    The K summaries, in order.
  """

  check_compatible(configs)
  if len(workdirs) != len(configs):
    raise ValueError(f"{len(configs)} configs but {len(workdirs)} workdirs.")
  c0, k_runs = configs[0], len(configs)
  workdirs = [records.check_writable(w) for w in workdirs]
  for cfg, wd in zip(configs, workdirs):
    if (wd / records.CONFIG).exists():
      diff = train._diff(train._config_for_compare(records.read_json(wd / records.CONFIG)["config"]),
                         train._config_for_compare(cfg.to_dict()))
      if diff:
        raise train.ConfigMismatchError(f"{wd} holds a run with another config:\n  " + "\n  ".join(diff))
  group_dir = records.check_writable(group_dir)
  is_main = jax.process_index() == 0

  ds = train._load_dataset(c0) if dataset is None else dataset
  keys = [train.stream_keys(c.seed) for c in configs]
  corrupted = [train._corrupt(c, ds, k["corruption"]) for c, k in zip(configs, keys)]
  n_train = len(ds.y_train)
  mesh = train.make_mesh()
  if c0.batch_size % mesh.size or c0.batch_size > n_train:
    raise ValueError(f"batch_size {c0.batch_size} must divide over {mesh.size} devices and not exceed {n_train}.")
  input_shape = (c0.data.crop, c0.data.crop, ds.x_train.shape[-1])
  built = [train.create_train_state(c, k["init"], input_shape, ds.num_classes) for c, k in zip(configs, keys)]
  graphdef = built[0][0]
  n_params = models.count_params(built[0][1].params)
  state = train.replicate(mesh, _stack([s for _, s in built]))
  del built

  x_train, x_test = train.put_replicated(mesh, ds.x_train), train.put_replicated(mesh, ds.x_test)
  y_train = train.put_replicated(mesh, np.stack([d.y_train for d, _ in corrupted]))  # [K, n]
  y_test = train.put_replicated(mesh, ds.y_test)
  key_data = lambda name: train.put_replicated(mesh, np.stack([np.asarray(jax.random.key_data(k[name])) for k in keys]))
  dropout_streams, shuffle_streams, augment_streams = (key_data(n) for n in ("dropout", "shuffle", "augment"))

  steps_per_epoch = n_train // c0.batch_size
  total_steps = int(math.ceil(c0.num_epochs * steps_per_epoch))
  batch, input_fn = c0.batch_size, train.make_input_fn(c0)
  run_batch = NamedSharding(mesh, P(None, "data"))
  wrap = jax.random.wrap_key_data

  @functools.partial(jax.jit, donate_argnums=(0, 2))
  def step_fn(state, perms, sums, active):
    steps = state.step                                                         # [K]
    idx = jax.vmap(lambda perm, s: jax.lax.dynamic_slice(perm, ((s % steps_per_epoch) * batch,), (batch,)))(
        perms, steps)
    idx = jax.lax.with_sharding_constraint(idx, run_batch)                     # [K, B]
    aug_keys = jax.vmap(lambda k, s: jax.random.fold_in(wrap(k), s))(augment_streams, steps)
    images = jax.vmap(input_fn)(x_train[idx], aug_keys)
    labels = jnp.take_along_axis(y_train, idx, axis=1)

    def one(st, images, labels, dropout_stream):
      return train.make_train_step(graphdef, c0, wrap(dropout_stream))(st, {"image": images, "label": labels})

    new, m = jax.vmap(one)(state, images, labels, dropout_streams)
    keep = lambda a, b: jnp.where(active.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    new = jax.tree.map(keep, new, state)
    bad = jnp.logical_and(active, jnp.logical_and(sums.nonfinite_step < 0, ~jnp.isfinite(m["loss"])))
    return new, train.StepSums(sums.loss + jnp.where(active, m["loss"], 0.0),
                               sums.accuracy + jnp.where(active, m["accuracy"], 0.0),
                               jnp.where(bad, steps, sums.nonfinite_step))

  permutations = jax.jit(jax.vmap(lambda k, epoch: jax.random.permutation(jax.random.fold_in(wrap(k), epoch),
                                                                          n_train), in_axes=(0, None)))

  @jax.jit
  def eval_sums(state, x, y_runs, start):  # y_runs: [K, n]
    n = x.shape[0]
    pos = start + jnp.arange(c0.eval_batch_size)
    idx = jnp.minimum(pos, n - 1)
    mask = (pos < n).astype(jnp.float32)
    images = input_fn(x[idx])  # shared by every run

    def one(st, y):
      logits, _ = train._forward(graphdef, st.params, st.model_state, images, False, None)
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, y[idx])
      return jnp.sum(ce * mask), jnp.sum((jnp.argmax(logits, -1) == y[idx]) * mask)
    return jax.vmap(one)(state, y_runs)

  def evaluate(x, y_runs):
    n = x.shape[0]
    loss, correct = np.zeros(k_runs), np.zeros(k_runs)
    for start in range(0, n, c0.eval_batch_size):
      l, c = eval_sums(state, x, y_runs, jnp.asarray(start, jnp.int32))
      loss, correct = loss + np.asarray(l), correct + np.asarray(c)
    return loss / n, correct / n

  if is_main:
    for cfg, wd, (d, rec) in zip(configs, workdirs, corrupted):
      records.write_json(wd / records.CONFIG, {
          "config": cfg.to_dict(), "seed": cfg.seed, "num_params": n_params, "input_shape": list(input_shape),
          "num_classes": ds.num_classes, "dataset": d.provenance, "num_train": n_train, "num_test": len(ds.y_test),
          "steps_per_epoch": steps_per_epoch, "corruption": rec.to_dict(), "mesh": {"data": mesh.size},
          "vmapped_runs": k_runs, "environment": records.environment()})

  # The group's checkpoints are keyed by what it computes (entries such as num_epochs may change on resume).
  fingerprint = hashlib.sha1(json.dumps([train._config_for_compare(c.to_dict()) for c in configs], sort_keys=True,
                                        default=str).encode())
  manager = train._checkpoint_manager(group_dir / fingerprint.hexdigest()[:12], c0)
  metrics = [[] for _ in configs]
  meta = {"train_seconds": 0.0, "time_to_fit": [None] * k_runs, "active": [True] * k_runs}
  state, meta, restored_step = train._restore_latest(manager, state, meta)
  if restored_step is not None:
    metrics = [train._metrics_until(wd, restored_step) for wd in workdirs]

  def log(step, sums, n_steps, with_eval):
    base = {"step": step, "epoch": step / steps_per_epoch, "examples": step * batch,
            "train_seconds": meta["train_seconds"]}
    if with_eval:
      tr_loss, tr_acc = evaluate(x_train, y_train)
      te_loss, te_acc = evaluate(x_test, jnp.broadcast_to(y_test, (k_runs,) + y_test.shape))
    for k in range(k_runs):
      if not meta["active"][k]:
        continue  # a frozen run has stopped, as it would have alone
      row = dict(base)
      if n_steps:
        row.update(batch_loss=float(sums.loss[k]) / n_steps, batch_accuracy=float(sums.accuracy[k]) / n_steps)
      if with_eval:
        row.update(train_loss=float(tr_loss[k]), train_accuracy=float(tr_acc[k]), test_loss=float(te_loss[k]),
                   test_accuracy=float(te_acc[k]))
        if meta["time_to_fit"][k] is None and row["train_accuracy"] >= c0.fit_threshold:
          meta["time_to_fit"][k] = {"step": step, "epoch": row["epoch"], "seconds": meta["train_seconds"]}
          if c0.stop_at_fit:
            meta["active"][k] = False
      metrics[k].append(row)
      if is_main:
        records.write_jsonl(workdirs[k] / records.METRICS, metrics[k])

  def save(step):
    train._save(manager, step, state, meta)

  step = restored_step or 0
  if step == 0 and not any(metrics):
    log(0, None, 0, with_eval=True)
  zeros = lambda: train.replicate(mesh, train.StepSums(jnp.zeros(k_runs), jnp.zeros(k_runs),
                                                       jnp.full(k_runs, -1, jnp.int32)))
  sums, n_since, perms, perm_epoch = zeros(), 0, None, None
  t0 = time.perf_counter()
  while step < total_steps and any(meta["active"]):
    if step // steps_per_epoch != perm_epoch:
      perm_epoch = step // steps_per_epoch
      perms = permutations(shuffle_streams, jnp.asarray(perm_epoch, jnp.int32))
    state, sums = step_fn(state, perms, sums, jnp.asarray(meta["active"]))
    step += 1
    n_since += 1
    with_eval = step % c0.eval_every_steps == 0 or step == total_steps
    if with_eval or step % c0.log_every_steps == 0:
      bad = np.asarray(sums.nonfinite_step)
      if (bad >= 0).any():
        k = int(np.argmax(bad >= 0))
        raise train.NonFiniteLossError(f"Run {k} ({workdirs[k]}): loss became non-finite at step {int(bad[k])}.")
      meta["train_seconds"] += time.perf_counter() - t0
      log(step, sums, n_since, with_eval)
      sums, n_since = zeros(), 0
      t0 = time.perf_counter()
    if step % c0.checkpoint_every_steps == 0:
      save(step)
  meta["train_seconds"] += time.perf_counter() - t0
  for k in range(k_runs):  # a run that ended between evaluations gets its final evaluation
    last = metrics[k][-1] if metrics[k] else {}
    if meta["active"][k] and ("train_accuracy" not in last or last["step"] != step):
      log(step, None, 0, with_eval=True)
      break
  if manager.latest_step() != step:
    save(step)
  manager.wait_until_finished()
  manager.close()

  summaries = []
  for k, (cfg, wd, (d, rec)) in enumerate(zip(configs, workdirs, corrupted)):
    last = metrics[k][-1]
    summary = {"step": last["step"], "epoch": last["epoch"], "train_accuracy": last["train_accuracy"],
               "test_accuracy": last["test_accuracy"], "train_loss": last["train_loss"],
               "test_loss": last["test_loss"], "time_to_fit": meta["time_to_fit"][k],
               "fit_threshold": cfg.fit_threshold, "train_seconds": meta["train_seconds"], "num_params": n_params,
               "model": cfg.model, "corruption": rec.to_dict(), "dataset": d.provenance, "vmapped_runs": k_runs}
    if is_main:
      records.write_json(wd / records.SUMMARY, summary)
    summaries.append(summary)
  return summaries
