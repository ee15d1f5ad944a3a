"""The base config: every hyperparameter of a run, with the paper's values where it states them.

Paper (Section 2, Appendix A): SGD with momentum 0.9, learning rate 0.1 for Inception and
0.01 for AlexNet and the MLPs, decayed by 0.95 per epoch, batch size 128, no explicit
regularizer unless a Table 1 row says so.

Choices where the paper is silent (kept the same across every experiment):
* learning-rate decay is counted in examples: x0.95 per 50,000 examples seen, i.e. per
  CIFAR-10 epoch, so the schedule means the same on the 2,000-image sample;
* weight decay, when a row turns it on: 5e-4 on weights (not biases or BN offsets) as
  ``weight_decay * 0.5 * ||W||^2``;
* BatchNorm running-average momentum 0.9, epsilon 1e-3;
* parameter initialisation: Flax defaults (LeCun normal kernels, zero biases).
"""

import copy
from typing import Any

import ml_collections

from rethink_jax.configs import schema

PAPER_LR = {"inception_small": 0.1, "inception_small_nobn": 0.1, "alexnet_small": 0.01,
            "mlp_1x512": 0.01, "mlp_3x512": 0.01}


def base_config() -> ml_collections.ConfigDict:
  """Every key of a training run at its default (:data:`rethink_jax.configs.schema.RUN`,
  where each key's default, allowed values and meaning are declared)."""
  return schema.config_from(schema.RUN)


def override(c: ml_collections.ConfigDict, **changes) -> ml_collections.ConfigDict:
  """A copy of ``c`` with dotted keys changed: ``override(c, **{"optim.lr": 0.1})``."""
  c = copy.deepcopy(c)
  for key, value in changes.items():
    node = c
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return c


def set_model(c: ml_collections.ConfigDict, model: str) -> ml_collections.ConfigDict:
  """Sets the model and the paper's learning rate for it."""
  c.model = model
  c.optim.lr = PAPER_LR.get(model, c.optim.lr)  # a registered model has no paper learning rate
  return c


def randomization_config(kind: str, preset: str) -> ml_collections.ConfigDict:
  """One randomization test (Section 2) with any model.

  Presets:
  * ``cpu``: MLP 1x512 on the embedded sample, until 100% train accuracy (at most 400
    epochs of the sample), evaluated every 2 sample epochs.
  * ``paper``: full CIFAR-10 from files, the paper's settings, at most 100 epochs,
    stopping at 100% train accuracy (the paper does not state its epoch budget).
  """
  c = base_config()
  c.corruption.kind = kind
  c.stop_at_fit = True
  if preset == "cpu":
    c.num_epochs = 400.0
    c.eval_every_steps = 30
    c.log_every_steps = 15
    c.checkpoint_every_steps = 300
  elif preset == "paper":
    c.data.source = "files"
    c.num_epochs = 100.0
    c.eval_every_steps = 390
    c.log_every_steps = 78
    c.checkpoint_every_steps = 1950
  else:
    raise ValueError(f"Unknown preset {preset!r}; choose 'cpu' or 'paper'.")
  return c


def sweep_config(preset: str, entries: tuple[str, ...] = ()) -> ml_collections.ConfigDict:
  """A sweep's config: the single-run schema (``model``, ``data.*``, ``optim.*``, ...) that
  every run of the sweep starts from, and the sweep's own ``entries`` under ``sweep.*`` at
  their declared defaults (:data:`rethink_jax.configs.schema.SWEEP`; the preset sets the
  values it needs)."""
  c = randomization_config("true_labels", preset)
  c.stop_at_fit = False
  c.sweep = ml_collections.ConfigDict()
  for name in entries:
    c.sweep[name] = schema.SWEEP[f"sweep.{name}"].default
  return c


def model_sweep_config(preset: str, models: tuple[str, ...],
                       entries: tuple[str, ...] = ()) -> ml_collections.ConfigDict:
  """A sweep over models: ``model`` empty means every model of ``sweep.models``; a model
  named in ``model`` (``--config.model=alexnet_small``) runs that model alone. Each model
  gets its paper learning rate unless ``sweep.paper_lr`` is False (then ``optim.lr``)."""
  c = sweep_config(preset, ("models", "paper_lr") + tuple(entries))
  c.model = ""
  c.sweep.models = tuple(models)
  return c


def run_base(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config every run of a sweep starts from: ``c`` without its ``sweep.*`` entries
  (the same schema as a single run, so a run's identity does not depend on the sweep)."""
  base = copy.deepcopy(c)
  if "sweep" in base:
    del base["sweep"]
  return base


def sweep_models(c: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The models a sweep over models trains: ``model`` alone if set, else ``sweep.models``
  (each name is checked with the run's config, like a single run's ``model``)."""
  chosen = (c.model,) if c.model else tuple(c.sweep.models)
  if not chosen:
    raise schema.ConfigError(f"config.sweep.models = {chosen!r}: must name at least one model.")
  return chosen


def model_run(c: ml_collections.ConfigDict, model: str) -> ml_collections.ConfigDict:
  """The base run of ``model`` in a sweep over models (its paper learning rate if
  ``sweep.paper_lr``)."""
  base = run_base(c)
  base.model = model
  if schema.setting(c, "sweep.paper_lr"):
    if c.optim.lr != base_config().optim.lr:  # the user set it: never replaced without a word
      raise schema.ConfigError(
          f"config.optim.lr = {c.optim.lr!r} is not used while config.sweep.paper_lr is True (each model trains at "
          f"its paper learning rate); pass --config.sweep.paper_lr=False to train every model at {c.optim.lr!r}.")
    base.optim.lr = PAPER_LR.get(model, base.optim.lr)
  return base


class SweepRuns(dict):
  """``{name: (config, meta)}`` of a sweep, and ``artifact``: the paper artifact it reproduces
  (one of :data:`rethink_jax.report.ARTIFACTS`, checked when the sweep runs). Each
  ``configs/<artifact>.py`` builds its own with ``build_runs(config)``. ``merge``: the sweep
  is a table of independent rows that grows run by run (Table 1: some rows now, others
  later, in one directory), so the runs already listed in its ``sweep.json`` are kept."""

  def __init__(self, artifact: str, runs: dict[str, tuple[ml_collections.ConfigDict, dict[str, Any]]],
               merge: bool = False):
    super().__init__(runs)
    self.artifact = artifact
    self.merge = merge
