"""Many runs in one sweep directory, resumable: finished runs are skipped, a half-finished
run resumes from its checkpoint (through :func:`rethink_jax.train.train_and_evaluate`).

A sweep directory holds ``sweep.json`` (the paper artifact it reproduces, and each run's
name, config and metadata such as the Table 1 row it reproduces; see
:func:`rethink_jax.records.write_sweep`) and one run directory per run. Builders below turn
an experiment config into its runs, one per paper artifact; each returns :class:`SweepRuns`,
which carries the artifact's name.
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import ml_collections

from rethink_jax import paper, records, train
from rethink_jax.configs import common

__all__ = ["run_sweep", "load_sweep", "SweepRuns", "table1_runs", "appendix_runs", "fitting_curves_runs",
           "label_corruption_runs", "implicit_regularization_runs", "memorization_runs", "SWEEP_FILE",
           "FIGURE1_KINDS"]

SWEEP_FILE = records.SWEEP
FIGURE1_KINDS = paper.FIGURE1_KINDS


class SweepRuns(dict):
  """``{name: (config, meta)}`` of a sweep, and ``artifact``: the paper artifact it reproduces
  (one of :data:`rethink_jax.records.ARTIFACTS`)."""

  def __init__(self, artifact: str, runs: dict[str, tuple[ml_collections.ConfigDict, dict[str, Any]]]):
    if artifact not in records.ARTIFACTS:
      raise ValueError(f"Unknown paper artifact {artifact!r}; choose one of {records.ARTIFACTS}.")
    super().__init__(runs)
    self.artifact = artifact


def run_sweep(runs: SweepRuns, sweep_dir, *, only: str | None = None, train_fn=None, merge: bool = False,
              vmapped: bool = False) -> dict[str, dict]:
  """Runs every run of the sweep not yet finished; returns ``{name: summary}``.

  A run counts as finished when :func:`rethink_jax.records.finished_summary` says so (same
  identity, and its budget reached); otherwise ``train_fn`` (default
  :func:`rethink_jax.train.train_and_evaluate`) resumes or starts it. ``merge=True`` keeps
  the other runs already listed in the sweep directory (a sweep grown one run at a time,
  as ImageNet's Table 2 rows are). ``vmapped=True`` trains all unfinished runs as one
  program (:func:`rethink_jax.multirun.train_many`; they must differ only in labels and seeds).
  """
  artifact = getattr(runs, "artifact", None)
  if artifact is None:
    raise ValueError("run_sweep needs SweepRuns (the paper artifact it reproduces), as the builders here return.")
  if only is not None and only not in runs:
    raise ValueError(f"No run named {only!r} in this sweep; its runs are {sorted(runs)}.")
  for name, (cfg, _) in runs.items():  # a mismatched run directory fails before anything is written
    records.check_run_dir(pathlib.Path(sweep_dir).expanduser() / name, cfg)
  sweep_dir = records.check_writable(sweep_dir)
  spec = {}
  if merge and (sweep_dir / SWEEP_FILE).exists():
    saved_artifact, saved = records.read_sweep(sweep_dir)
    if saved_artifact != artifact:
      raise records.RecordError(f"{sweep_dir / SWEEP_FILE} holds a {saved_artifact} sweep, not {artifact}.")
    spec = {name: {"config": run["config"], "meta": run["meta"]} for name, run in saved.items()}
  spec.update({name: {"config": cfg.to_dict(), "meta": meta} for name, (cfg, meta) in runs.items()})
  records.write_sweep(sweep_dir, artifact, spec)
  summaries, todo = {}, {}
  for name, (cfg, meta) in runs.items():
    if only and name != only:
      continue
    done = records.finished_summary(sweep_dir / name, cfg)
    if done is not None:
      summaries[name] = done
      print(f"[{name}] finished earlier: skipped")
      continue
    todo[name] = cfg
  if vmapped:
    from rethink_jax import multirun

    # Runs that may share a program (same model, data and optimizer) train as one; the others alone.
    groups: dict[str, dict] = {}
    for name, cfg in todo.items():
      groups.setdefault(multirun.group_key(cfg), {})[name] = cfg
    for group in groups.values():
      if len(group) < 2:
        continue
      print(f"[{', '.join(group)}] {len(group)} runs as one vmapped program", flush=True)
      done = multirun.train_many(list(group.values()), [sweep_dir / name for name in group],
                                 group_dir=sweep_dir / "_vmapped")
      for name, s in zip(group, done):
        print(f"[{name}] train {s['train_accuracy']:.4f} test {s['test_accuracy']:.4f} steps {s['step']}", flush=True)
        del todo[name]
      summaries.update(zip(group, done))
  for name, cfg in todo.items():
    print(f"[{name}] {cfg.model}, {cfg.corruption.kind}" + (f" p={cfg.corruption.p}" if cfg.corruption.kind ==
                                                             "partial_labels" else ""), flush=True)
    summaries[name] = train_fn(cfg, sweep_dir / name) if train_fn else train.train_and_evaluate(cfg, sweep_dir / name)
    s = summaries[name]
    accuracy = (f"train {s['train_accuracy']:.4f} test {s['test_accuracy']:.4f}" if "train_accuracy" in s else
                f"train top-1 {s['train_top1']:.4f} test top-1 {s['test_top1']:.4f} top-5 {s['test_top5']:.4f}")
    print(f"[{name}] {accuracy} steps {s['step']} ({s['train_seconds']:.0f} s)", flush=True)
  return summaries


def load_sweep(sweep_dir) -> dict[str, dict]:
  """``{name: {"meta", "config", "summary" (or None), "metrics", "dir"}}`` for every run of a sweep."""
  return records.read_sweep(sweep_dir)[1]


def table1_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Table 1: each model with/without random crop and weight decay, and with random labels."""
  runs = {}
  for model in c.models:
    crops = (True, False) if not model.startswith("mlp") and not model.endswith("nobn") else (False,)
    base = common.set_model(copy.deepcopy(c.train), model)
    for crop in crops:
      for wd in (True, False):
        name = f"{model}-crop{int(crop)}-wd{int(wd)}"
        runs[name] = (common.override(base, **{"augment.random_crop": crop,
                                        "optim.weight_decay": c.weight_decay if wd else 0.0}),
                      {"model": model, "random_crop": crop, "weight_decay": wd, "random_labels": False})
    runs[f"{model}-random_labels"] = (common.override(base, **{"corruption.kind": "random_labels",
                                                        "num_epochs": c.random_label_epochs}),
                                      {"model": model, "random_crop": False, "weight_decay": False,
                                       "random_labels": True})
  return SweepRuns("table1", runs)


def appendix_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Appendix table: random labels with regularizers."""
  runs = {}
  for model in c.models:
    base = common.override(common.set_model(copy.deepcopy(c.train), model),
                    **{"corruption.kind": "random_labels", "num_epochs": c.random_label_epochs})
    runs[f"{model}-random_labels-wd"] = (common.override(base, **{"optim.weight_decay": c.weight_decay}),
                                         {"model": model, "regularizer": "weight decay"})
    if model == "inception_small":
      runs[f"{model}-random_labels-crop"] = (common.override(base, **{"augment.random_crop": True}),
                                             {"model": model, "regularizer": "random crop"})
      runs[f"{model}-random_labels-augment"] = (
          common.override(base, **{"augment.flip": True, "augment.rotate_degrees": 25.0, "optim.lr_decay": 0.999}),
          {"model": model, "regularizer": "augmentation"})
  return SweepRuns("appendix", runs)


def fitting_curves_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Figure 1a: the five randomization tests, same model and hyperparameters."""
  return SweepRuns("figure1a", {kind: (common.override(c.train, **{"corruption.kind": kind}), {"kind": kind})
                                for kind in FIGURE1_KINDS})


def label_corruption_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Figures 1b and 1c: partially corrupted labels at each level in ``c.levels``, for each
  seed in ``c.seeds`` (default: just ``c.train.seed``; more seeds give error bars)."""
  seeds = tuple(c.get("seeds", None) or (c.train.seed,))
  runs = {}
  for seed in seeds:
    for p in c.levels:
      name = f"p{p:.2f}" + (f"-seed{seed}" if len(seeds) > 1 else "")
      runs[name] = (common.override(c.train, **{"corruption.kind": "partial_labels", "corruption.p": float(p),
                                                "seed": int(seed)}), {"p": float(p), "seed": int(seed)})
  return SweepRuns("figure1bc", runs)


def implicit_regularization_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Figure 2b: Inception with and without BatchNorm on true labels."""
  return SweepRuns("figure2b", {model: (common.set_model(copy.deepcopy(c.train), model), {"model": model})
                                for model in c.models})


def memorization_runs(c: ml_collections.ConfigDict) -> SweepRuns:
  """Memorization dynamics: for each model in ``c.models``, partially corrupted labels at
  each level in ``c.levels`` and (with ``c.random_labels``) random labels, every run with
  per-example records (``track_examples``)."""
  runs = {}
  for model in c.models:
    base = common.override(common.set_model(copy.deepcopy(c.train), model), track_examples=True)
    for p in c.levels:
      runs[f"{model}-p{p:.2f}"] = (common.override(base, **{"corruption.kind": "partial_labels",
                                                            "corruption.p": float(p)}),
                                   {"model": model, "p": float(p)})
    if c.random_labels:
      runs[f"{model}-random_labels"] = (common.override(base, **{"corruption.kind": "random_labels"}),
                                        {"model": model, "p": 1.0})
  return SweepRuns("memorization", runs)
