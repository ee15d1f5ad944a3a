"""The tables of a script's ``results.json`` (``<script>.md`` beside it): the min-norm and
Theorem 1 experiments (:mod:`rethink_jax.report.minnorm`) and the benchmarks of
``benchmarks/`` (:mod:`rethink_jax.report.benchmarks`). :data:`TABLES` holds one entry per
script that writes one (:data:`rethink_jax.records.RESULT_SCRIPTS`)."""

from __future__ import annotations

import pathlib

from rethink_jax import records
from rethink_jax.report import benchmarks, minnorm
from rethink_jax.report.common import atomic_text, environment_line

TABLES = {"minnorm_mnist": ("Section 5: min-norm interpolation on MNIST", minnorm.minnorm_mnist),
          "minnorm_cifar": ("Section 5: min-norm interpolation on CIFAR-10", minnorm.minnorm_cifar),
          "theorem1": ("Theorem 1 and Rademacher complexity", minnorm.theorem1),
          "train_throughput": ("Train-step throughput, JAX and PyTorch", benchmarks.train_throughput),
          "vmapped_sweep": ("Many runs in one program: the vmapped label-corruption sweep", benchmarks.vmapped_sweep),
          "minnorm_scaling": ("Min-norm interpolation against n: time, memory and the floor",
                              benchmarks.minnorm_scaling),
          "conv_profile": ("One convolution's three passes, JAX and PyTorch", benchmarks.conv_profile),
          "track_examples": ("What per-example records cost", benchmarks.track_examples),
          "accelerator": ("One accelerator: train step, vmapped sweep, min-norm and the headline run",
                          benchmarks.accelerator),
          "subset_runs": ("Subset-trained runs: one vmapped program against runs one after another",
                          benchmarks.subset_runs),
          "patch_features": ("The random-patch Gram matrix per filter: featurization and products",
                             benchmarks.patch_features)}
"""Each script's table: ``{script: (title, function)}``, the function reading the script's
``results.json`` (the fields its docstring names) into the table's lines."""


def script_results(results_dir) -> pathlib.Path:
  """The tables of a min-norm, Theorem 1 or benchmark ``results.json`` (``<script>.md`` beside it):
  test error beside the paper's, norm, residual, time and memory; Theorem 1's sizes,
  residuals and accuracies and the Rademacher estimates; or a benchmark's timings with
  their spread.

  Every record names its ``script`` (a key of :data:`TABLES`) and holds ``dataset`` and
  ``environment`` (the table's last line), and ``n_train`` where the script sets it; a
  record that names no known script, or lacks a field its table reads, raises
  :class:`rethink_jax.records.RecordError`."""
  results_dir = pathlib.Path(results_dir)
  saved = records.read_json(results_dir / records.RESULTS)
  script = saved.get("script") if isinstance(saved, dict) else None
  if script not in TABLES:
    raise records.RecordError(f"{results_dir / records.RESULTS} names no script of {records.RESULT_SCRIPTS} "
                              "(written by an older release?).")
  title, table = TABLES[script]
  try:
    lines = table(saved)
  except (KeyError, TypeError) as e:
    raise records.RecordError(f"{results_dir / records.RESULTS} lacks an entry its table needs: {e}.") from None
  n = f"; {saved['n_train']:,} train" if "n_train" in saved else ""
  text = (f"# {title}\n\n" + "\n".join(lines) + f"\n\nData: {saved['dataset']}{n}. "
          f"{environment_line(saved.get('environment', {}))}\n")
  return atomic_text(results_dir / f"{script}.md", text)
