"""Tables and figures of the paper rebuilt from run records, never by hand.

``python -m rethink_jax.report PATH [PATH ...]`` finds every sweep directory below each
``PATH`` (a folder with ``sweep.json``) and writes, next to it, what that sweep reproduces
(a single run directory outside a sweep gets ``curves.png`` and ``summary.md``,
:func:`single_run`); a path that does not exist or holds no run record, or a corrupt
record (named by its path), exits with status 2:

* Table 1 (``table1.md``, and ``table1.png``: each row's accuracy over training) and the
  Appendix table (``appendix.md``), with the paper's numbers in a column beside ours; a
  Table 1 row still training shows its last evaluation, marked unfinished;
* Figure 1a (``figure1a.png``, ``figure1a.md``): training loss against steps for the five
  randomization tests, and each test's time to fit;
* Figures 1b and 1c (``figure1b.png``, ``figure1c.png``): time to fit relative to true
  labels, and test error at the end, against the label corruption level;
* Figure 2b (``figure2b.png``, ``figure2b.md``): test accuracy over training, the
  cumulative best shaded;
* Table 2 (``table2.md``) and Figure 2a (``figure2a.png``) from ImageNet runs;
* memorization dynamics (``memorization.md``, ``memorization-<model>.png``), beyond the
  paper, from the runs' per-example records;
* memorization, influence and C-scores (``memorization_scores.md``, ``scores.npz`` and its
  figures), beyond the paper, from the predictions of runs trained on random subsets;
* Section 5 and Theorem 1 (``minnorm_mnist.md``, ``minnorm_cifar.md``, ``theorem1.md``)
  from the ``results.json`` of the min-norm and Theorem 1 scripts;
* the benchmarks' timings (``train_throughput.md``, ``vmapped_sweep.md``,
  ``minnorm_scaling.md``, ``conv_profile.md``, ``track_examples.md``, ``accelerator.md``)
  from the ``results.json`` of the scripts of the same names in ``benchmarks/``, run with
  ``--out``.

Each output is written to a temporary file and renamed into place.

The package keeps each concern in its module, and this one re-exports their public names:
``artifacts`` (the paper's tables and figures from a sweep, :data:`ARTIFACTS`,
:func:`build`), ``runs`` (a single run), ``results`` (a script's ``results.json``, with the
registry of its tables), whose tables live beside their concern, ``minnorm`` (Section 5
and Theorem 1) and ``benchmarks`` (the format each benchmark writes), ``common`` (formats,
data labels, provenance lines, atomic writes, matplotlib) and ``cli`` (:func:`build_all`
and :func:`main`, run by ``python -m rethink_jax.report``).
"""

from __future__ import annotations

from rethink_jax.report.artifacts import (ARTIFACTS, IncompleteSweepError, appendix, build, figure1a, figure1a_table,
                                          figure1bc, figure2a, figure2b, figure2b_table, memorization,
                                          memorization_stats, sweep_gaps, table1, table1_curves, table2)
from rethink_jax.report.cli import build_all, main
from rethink_jax.report.common import KIND_LABELS
from rethink_jax.report.common import data_label as _data_label  # noqa: F401  (tests/test_data.py reads it here)
from rethink_jax.report.scores import memorization_scores
from rethink_jax.report.results import script_results
from rethink_jax.report.runs import metrics_warnings, single_run

__all__ = ["table1", "table1_curves", "appendix", "figure1a", "figure1a_table", "figure1bc", "figure2b",
           "figure2b_table", "table2", "figure2a", "memorization", "memorization_scores", "memorization_stats", "single_run", "script_results",
           "build", "build_all", "main", "ARTIFACTS", "IncompleteSweepError", "sweep_gaps", "metrics_warnings", "KIND_LABELS"]
