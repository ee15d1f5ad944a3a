"""Many runs in one sweep directory, resumable: finished runs are skipped, a half-finished
run resumes from its checkpoint (through :func:`rethink_jax.train.train_and_evaluate`).

A sweep directory holds ``sweep.json`` (each run's name, config and metadata such as the
Table 1 row it reproduces) and one run directory per run. Builders below turn an
experiment config into its runs, one per paper artifact.
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import ml_collections

from rethink_jax import records, train
from rethink_jax.configs import common

__all__ = ["run_sweep", "load_sweep", "table1_runs", "appendix_runs", "fitting_curves_runs",
           "label_corruption_runs", "implicit_regularization_runs", "SWEEP_FILE"]

SWEEP_FILE = "sweep.json"
Runs = dict[str, tuple[ml_collections.ConfigDict, dict[str, Any]]]


def _what_it_computes(config: dict) -> dict:
  # A finished run counts as done unless a setting that changes its result differs (a longer
  # num_epochs does: the run then resumes and goes on).
  return {k: v for k, v in config.items() if k not in ("conv_impl", "progress", "workdir")}


def run_sweep(runs: Runs, sweep_dir, *, only: str | None = None, train_fn=None, merge: bool = False,
              vmapped: bool = False) -> dict[str, dict]:
  """Runs every run of the sweep not yet finished; returns ``{name: summary}``.

  A run counts as finished when its ``summary.json`` exists and its saved config equals
  the one asked for; otherwise ``train_fn`` (default :func:`rethink_jax.train.train_and_evaluate`)
  resumes or starts it. ``merge=True`` keeps the other runs already listed in the sweep
  directory (a sweep grown one run at a time, as ImageNet's Table 2 rows are).
  ``vmapped=True`` trains all unfinished runs as one program
  (:func:`rethink_jax.multirun.train_many`; they must differ only in labels and seeds).
  """
  train_fn = train_fn or train.train_and_evaluate
  sweep_dir = records.check_writable(sweep_dir)
  spec = records.read_json(sweep_dir / SWEEP_FILE) if merge and (sweep_dir / SWEEP_FILE).exists() else {}
  spec.update({name: {"config": cfg.to_dict(), "meta": meta} for name, (cfg, meta) in runs.items()})
  records.write_json(sweep_dir / SWEEP_FILE, spec)
  summaries, todo = {}, {}
  for name, (cfg, meta) in runs.items():
    if only and name != only:
      continue
    workdir = sweep_dir / name
    summary_path, config_path = workdir / records.SUMMARY, workdir / records.CONFIG
    if summary_path.exists() and config_path.exists() and (
        _what_it_computes(records.read_json(config_path)["config"]) == _what_it_computes(cfg.to_dict())):
      summaries[name] = records.read_json(summary_path)
      print(f"[{name}] finished earlier: skipped")
      continue
    todo[name] = cfg
  if vmapped and len(todo) > 1:
    from rethink_jax import multirun

    print(f"[{', '.join(todo)}] {len(todo)} runs as one vmapped program", flush=True)
    done = multirun.train_many(list(todo.values()), [sweep_dir / name for name in todo],
                               group_dir=sweep_dir / "_vmapped")
    for name, s in zip(todo, done):
      print(f"[{name}] train {s['train_accuracy']:.4f} test {s['test_accuracy']:.4f} steps {s['step']}", flush=True)
    summaries.update(zip(todo, done))
    return {name: summaries[name] for name in runs if name in summaries}
  for name, cfg in todo.items():
    print(f"[{name}] {cfg.model}, {cfg.corruption.kind}" + (f" p={cfg.corruption.p}" if cfg.corruption.kind ==
                                                             "partial_labels" else ""), flush=True)
    summaries[name] = train_fn(cfg, sweep_dir / name)
    s = summaries[name]
    accuracy = (f"train {s['train_accuracy']:.4f} test {s['test_accuracy']:.4f}" if "train_accuracy" in s else
                f"train top-1 {s['train_top1']:.4f} test top-1 {s['test_top1']:.4f} top-5 {s['test_top5']:.4f}")
    print(f"[{name}] {accuracy} steps {s['step']} ({s['train_seconds']:.0f} s)", flush=True)
  return summaries


def load_sweep(sweep_dir) -> dict[str, dict]:
  """``{name: {"meta", "config", "summary" (or None), "metrics"}}`` for every run of a sweep."""
  sweep_dir = pathlib.Path(sweep_dir)
  spec = records.read_json(sweep_dir / SWEEP_FILE)
  out = {}
  for name, entry in spec.items():
    workdir = sweep_dir / name
    summary = records.read_json(workdir / records.SUMMARY) if (workdir / records.SUMMARY).exists() else None
    out[name] = {"meta": entry["meta"], "config": entry["config"], "summary": summary,
                 "metrics": records.read_jsonl(workdir / records.METRICS)}
  return out


def table1_runs(c: ml_collections.ConfigDict) -> Runs:
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
  return runs


def appendix_runs(c: ml_collections.ConfigDict) -> Runs:
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
  return runs


FIGURE1_KINDS = ("true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian")


def fitting_curves_runs(c: ml_collections.ConfigDict) -> Runs:
  """Figure 1a: the five randomization tests, same model and hyperparameters."""
  return {kind: (common.override(c.train, **{"corruption.kind": kind}), {"kind": kind}) for kind in FIGURE1_KINDS}


def label_corruption_runs(c: ml_collections.ConfigDict) -> Runs:
  """Figures 1b and 1c: partially corrupted labels at each level in ``c.levels``, for each
  seed in ``c.seeds`` (default: just ``c.train.seed``; more seeds give error bars)."""
  seeds = tuple(c.get("seeds", None) or (c.train.seed,))
  runs = {}
  for seed in seeds:
    for p in c.levels:
      name = f"p{p:.2f}" + (f"-seed{seed}" if len(seeds) > 1 else "")
      runs[name] = (common.override(c.train, **{"corruption.kind": "partial_labels", "corruption.p": float(p),
                                                "seed": int(seed)}), {"p": float(p), "seed": int(seed)})
  return runs


def implicit_regularization_runs(c: ml_collections.ConfigDict) -> Runs:
  """Figure 2b: Inception with and without BatchNorm on true labels."""
  return {model: (common.set_model(copy.deepcopy(c.train), model), {"model": model}) for model in c.models}
