"""Table 1 (and, with the ``appendix`` presets, the Appendix table) on CIFAR-10.

Each model with and without random crop and weight decay (crop rows for the convolutional
networks only, as in the paper), and with random labels (no regularizer). Each model gets
its paper learning rate (``sweep.paper_lr``).

* ``cpu``: the MLPs on the embedded sample, 60 epochs of it (random labels: 200).
* ``paper``: all five models on full CIFAR-10 from files, at most 100 epochs per row
  (random labels: 200); every row stops once it fits the train set (100% train
  accuracy). The paper states neither its epochs nor its weight decay coefficient,
  here 5e-4.
    python experiments/table1.py --config rethink_jax/configs/table1.py:paper --config.data.data_dir=~/data
  One model with ``--config.model=alexnet_small``, several with
  ``--config.sweep.models='("mlp_1x512","mlp_3x512")'``; some rows only with
  ``--config.sweep.rows='("crop0-wd0","crop0-wd1")'`` (rows: crop0-wd0, crop0-wd1,
  crop1-wd0, crop1-wd1, random_labels; the crop rows exist for the conv nets only).
* ``appendix`` / ``appendix_cpu``: random labels with weight decay, random crop, and flips +
  rotations up to 25 degrees (lr decay 0.999, as the paper needed).
"""

from rethink_jax.configs import common, schema

ROWS = ("crop1-wd1", "crop1-wd0", "crop0-wd1", "crop0-wd0", "random_labels")

ALL_MODELS = ("inception_small", "inception_small_nobn", "alexnet_small", "mlp_3x512", "mlp_1x512")

PRESETS = ("cpu", "paper", "appendix", "appendix_cpu")


def get_config(preset: str = "cpu"):
  if preset not in PRESETS:
    raise ValueError(f"Unknown preset {preset!r}; choose cpu, paper, appendix or appendix_cpu.")
  base_preset = "paper" if preset in ("paper", "appendix") else "cpu"
  appendix = preset.startswith("appendix")
  if base_preset == "cpu":
    models = ("mlp_1x512", "mlp_3x512") if not appendix else ("mlp_1x512", "inception_small")
  else:
    models = ALL_MODELS
  c = common.model_sweep_config(base_preset, models, ("appendix", "weight_decay", "random_label_epochs", "rows"))
  c.sweep.appendix = appendix
  c.num_epochs = 60.0 if base_preset == "cpu" else 100.0
  # Every row stops at 100% train accuracy (Table 1 reports 100% for nearly every row) or
  # at its epoch budget, whichever comes first.
  c.stop_at_fit = True
  return c


def build_runs(c) -> common.SweepRuns:
  """Table 1's rows (or the Appendix table's, with ``sweep.appendix``) as runs."""
  if c.sweep.appendix and c.sweep.rows:
    raise schema.ConfigError("config.sweep.rows selects Table 1 rows; the Appendix presets take none.")
  return appendix_runs(c) if c.sweep.appendix else table1_runs(c)


def _rows(c) -> tuple[str, ...]:
  """The rows ``sweep.rows`` names (all of :data:`ROWS` when empty), checked."""
  rows = tuple(c.sweep.rows)
  unknown = [r for r in rows if r not in ROWS]
  if unknown:
    raise schema.ConfigError(f"config.sweep.rows = {rows!r}: {unknown[0]!r} is not a row; "
                               f"choose from {', '.join(ROWS)}.")
  return rows or ROWS


def table1_runs(c) -> common.SweepRuns:
  """Table 1: each model with/without random crop and weight decay, and with random labels
  (the rows of ``sweep.rows`` only, when it names some)."""
  rows = _rows(c)
  runs = {}
  for model in common.sweep_models(c):
    crops = (True, False) if not model.startswith("mlp") and not model.endswith("nobn") else (False,)
    base = common.model_run(c, model)
    for crop in crops:
      for wd in (True, False):
        if f"crop{int(crop)}-wd{int(wd)}" not in rows:
          continue
        name = f"{model}-crop{int(crop)}-wd{int(wd)}"
        runs[name] = (common.override(base, **{"augment.random_crop": crop,
                                               "optim.weight_decay": c.sweep.weight_decay if wd else 0.0}),
                      {"model": model, "random_crop": crop, "weight_decay": wd, "random_labels": False})
    if "random_labels" in rows:
      runs[f"{model}-random_labels"] = (common.override(base, **{"corruption.kind": "random_labels",
                                                                 "num_epochs": c.sweep.random_label_epochs}),
                                        {"model": model, "random_crop": False, "weight_decay": False,
                                         "random_labels": True})
  if not runs:
    raise schema.ConfigError(f"config.sweep.rows = {rows!r}: no row of it exists for "
                               f"{', '.join(common.sweep_models(c))} (the crop rows are for the conv nets only).")
  # rows chosen with sweep.rows or a model now, others later: one table grows in one directory
  return common.SweepRuns("table1", runs, merge=True)


def appendix_runs(c) -> common.SweepRuns:
  """Appendix table: random labels with regularizers."""
  runs = {}
  for model in common.sweep_models(c):
    base = common.override(common.model_run(c, model),
                           **{"corruption.kind": "random_labels", "num_epochs": c.sweep.random_label_epochs})
    runs[f"{model}-random_labels-wd"] = (common.override(base, **{"optim.weight_decay": c.sweep.weight_decay}),
                                         {"model": model, "regularizer": "weight decay"})
    if model == "inception_small":
      runs[f"{model}-random_labels-crop"] = (common.override(base, **{"augment.random_crop": True}),
                                             {"model": model, "regularizer": "random crop"})
      runs[f"{model}-random_labels-augment"] = (
          common.override(base, **{"augment.flip": True, "augment.rotate_degrees": 25.0, "optim.lr_decay": 0.999}),
          {"model": model, "regularizer": "augmentation"})
  return common.SweepRuns("appendix", runs, merge=True)
