"""Figure 2b: test accuracy over training for Inception with and without BatchNorm on
CIFAR-10 (true labels); the report shades the gap to the cumulative best (early stopping).

* ``cpu``: both Inception variants on the first 500 images of the sample, 10 epochs
  (minutes on 2 CPU cores; the shape of the curves, not the paper's numbers).
* ``paper``: full CIFAR-10 from files, 100 epochs, evaluated every epoch.
    python experiments/implicit_regularization.py --config rethink_jax/configs/implicit_regularization.py:paper \
        --config.data.data_dir=~/data
"""

from rethink_jax.configs import common

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu"):
  c = common.model_sweep_config(preset, ("inception_small", "inception_small_nobn"))
  if preset == "cpu":
    c.data.max_train = 500
    c.data.max_test = 250
    c.num_epochs = 10.0
    c.eval_every_steps = 3
    c.log_every_steps = 3
  else:
    c.num_epochs = 100.0
  return c


def build_runs(c) -> common.SweepRuns:
  """Figure 2b: each model (Inception with and without BatchNorm) on true labels."""
  return common.SweepRuns("figure2b", {model: (common.model_run(c, model), {"model": model})
                                       for model in common.sweep_models(c)})
