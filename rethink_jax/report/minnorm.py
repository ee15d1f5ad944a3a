"""The tables of the paper's Section 5 and Theorem 1, from the ``results.json`` that
``experiments/minnorm_mnist.py``, ``experiments/minnorm_cifar.py`` and
``experiments/theorem1.py`` write (:func:`rethink_jax.records.write_results`): each function
declares the fields it reads and returns the table's lines (:mod:`rethink_jax.report.results`
adds the title, the data and the devices).

Fractions (errors, accuracies) are recorded in [0, 1], times in seconds, memory in GB."""

from __future__ import annotations

from rethink_jax import paper
from rethink_jax.report.common import pct


def minnorm_mnist(saved: dict) -> list[str]:
  """Min-norm interpolation on MNIST, each feature system beside the paper's test error.

  Reads ``results``: one row per feature system, with ``features`` (its name, the key of
  :data:`rethink_jax.paper.MINNORM_MNIST`), ``bandwidth``, ``test_error``, ``train_error``
  (on the first 2,000 training images), ``norm`` (RKHS norm), ``residual`` (relative),
  ``solver`` (``cholesky`` or ``cg``), ``iterations`` (CG's iterations or the Cholesky's
  refinement steps), ``seconds`` and ``peak_rss_gb``."""
  lines = ["| features | bandwidth | test error | paper | train error (first 2,000) | norm | relative residual | "
           "solver | time | peak RSS |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
  for r in saved["results"]:
    ref = paper.MINNORM_MNIST.get(r["features"])
    steps = f"{r['iterations']} iterations" if r["solver"] == "cg" else f"{r['iterations']} refinement steps"
    lines.append(f"| {r['features']} | {r['bandwidth']:g} | {pct(r['test_error'])}% | "
                 f"{'—' if ref is None else f'{ref:.1f}%'} | {pct(r['train_error'])}% | {r['norm']:.1f} | "
                 f"{r['residual']:.1e} | {r['solver']} ({steps}) | {r['seconds']:.1f} s | {r['peak_rss_gb']:.1f} GB |")
  return lines


def minnorm_cifar(saved: dict) -> list[str]:
  """Min-norm interpolation on CIFAR-10, each method beside the paper's test error.

  Reads ``results``: one row per method, with ``method`` (``Gaussian kernel on pixels`` or
  ``<filters> random conv filters, ridge <r> x mean diag``), ``test_error``, ``norm``,
  ``residual`` (relative), ``seconds`` (with ``gram_seconds``, the Gram matrix's share, for
  random features) and ``peak_rss_gb``; ``evaluation``: ``"heldout"`` where the error is on
  held-out training images (``n_evaluated`` of them; ``test_error`` holds it), to choose
  parameters without the test set: then no paper figure is set beside it. A run with
  ``config.ridge_heldout`` has rows with ``evaluation: "heldout"`` (each ridge, ``n_fit``
  images fitted, ``n_evaluated`` held out) and one test row with ``chosen_on_heldout``: the
  table shows the test row, a note the held-out errors that chose its ridge."""
  heldout = saved.get("evaluation") == "heldout"  # records from before data.heldout are on the test set
  if heldout:
    return _minnorm_heldout(saved)
  lines = ["| method | test error | paper | norm | relative residual | time | peak RSS |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  tested = [r for r in saved["results"] if r.get("evaluation") != "heldout"]
  for r in tested:
    key = ("gaussian" if r["method"].startswith("Gaussian") else
           "random_conv" if _ridge(r) == 0 else "random_conv_ridge")
    time = (f"{r['seconds']:.0f} s" if "gram_seconds" not in r else
            f"{r['seconds']:.0f} s (Gram {r['gram_seconds']:.0f} s)")
    mark = " †" if "chosen_on_heldout" in r else ""
    lines.append(f"| {r['method']}{mark} | {pct(r['test_error'])}% | {paper.MINNORM_CIFAR10[key]:.0f}%* | "
                 f"{r['norm']:.1f} | {r['residual']:.1e} | {time} | {r['peak_rss_gb']:.1f} GB |")
  lines += ["", "\\* the paper's figure, for full CIFAR-10 (its random features: 32,000 filters)."]
  return lines + _ridge_choice(saved["results"], tested)


def _ridge_choice(rows: list[dict], tested: list[dict]) -> list[str]:
  """The note under a run whose ridge was chosen on held-out training images (``ridge_heldout``)."""
  trials = [r for r in rows if r.get("evaluation") == "heldout"]
  chosen = [r for r in tested if "chosen_on_heldout" in r]
  if not trials or not chosen:
    return []
  best = min(r["test_error"] for r in trials)
  cells = ", ".join((f"**{pct(r['test_error'])}%**" if r["test_error"] == best else f"{pct(r['test_error'])}%")
                    + f" at {_ridge(r):g}" for r in trials)
  first = trials[0]
  return ["", f"† ridge chosen before the test set was seen: each ridge fitted on the first {first['n_fit']:,} "
          f"training images and scored on the last {first['n_evaluated']:,} (blocks of the same Gram matrix), "
          f"held-out error {cells}; the lowest ({_ridge(chosen[0]):g} x mean diagonal) solved on all of them and "
          "tested."]


def _minnorm_heldout(saved: dict) -> list[str]:
  """A parameter-choosing run: the error on held-out training images, never the test set's.
  A grid run (rows with a ``setting``) is one row per featurization, a column per parameter
  it varies and one per ridge, and names the lowest held-out error without ridge (the
  interpolating solution) and at any ridge; other runs, one row per method."""
  if any("setting" in r for r in saved["results"]):
    return _minnorm_grid(saved)
  lines = ["| method | held-out error | norm | relative residual | time | peak RSS |", "|---|---:|---:|---:|---:|---:|"]
  for r in saved["results"]:
    lines.append(f"| {r['method']} | {pct(r['test_error'])}% | {r['norm']:.1f} | {r['residual']:.1e} | "
                 f"{r['seconds']:.0f} s | {r['peak_rss_gb']:.1f} GB |")
  params = saved["results"][0].get("feature_params") if saved["results"] else None
  return lines + ["", _heldout_note(saved, params)]


def _heldout_note(saved: dict, params) -> str:
  return (f"Fitted on {saved['n_train']:,} training images, evaluated on the next {saved['n_evaluated']:,} (held "
          "out; the test set is not used)" + (f"; features: {params}." if params else "."))


def _ridge(row: dict) -> float:
  """A row's ridge (relative to the mean diagonal of the Gram matrix): its ``ridge``, or, in
  records from before that field, the one its ``method`` names (``..., ridge R x mean diag``)."""
  import re

  if "ridge" in row:
    return float(row["ridge"])
  found = re.search(r"ridge (\S+) x mean diag$", row["method"])
  if not found:
    raise ValueError(f"a minnorm_cifar row names no ridge: {row['method']!r}")
  return float(found.group(1))


def _minnorm_grid(saved: dict) -> list[str]:
  """The grid of featurizations: one row per setting, the held-out error at each ridge."""
  rows = [r for r in saved["results"] if "setting" in r]
  varied = list(dict.fromkeys(k for r in rows for k in r["setting"]))
  ridges = sorted({_ridge(r) for r in rows})
  table: dict[tuple, dict] = {}
  for r in rows:
    entry = table.setdefault(tuple(sorted(r["setting"].items())), {"setting": r["setting"], "errors": {}, "row": r})
    entry["errors"][_ridge(r)] = r["test_error"]
  best = {ridge: min(e["errors"].get(ridge, float("inf")) for e in table.values()) for ridge in ridges}
  cell = lambda e, ridge: ("—" if ridge not in e["errors"] else
                           (f"**{pct(e['errors'][ridge])}%**" if e["errors"][ridge] == best[ridge] else
                            f"{pct(e['errors'][ridge])}%"))
  lines = ["| " + " | ".join(varied) + " | " + " | ".join(f"held-out error, ridge {x:g}" if q == 0 else f"ridge {x:g}"
                                                       for q, x in enumerate(ridges))
           + " | features | Gram time | peak RSS |", "|" + "---:|" * (len(varied) + len(ridges) + 3)]
  for e in table.values():
    r = e["row"]
    lines.append("| " + " | ".join(f"{e['setting'][k]:g}" if k in e["setting"] else "—" for k in varied) + " | "
                 + " | ".join(cell(e, x) for x in ridges)
                 + f" | {r.get('feature_count', 0):,} | {r.get('gram_seconds', r['seconds']):.0f} s | "
                 f"{r['peak_rss_gb']:.1f} GB |")
  params = {k: v for k, v in (rows[0].get("feature_params") or {}).items() if k not in varied}
  out = lines + ["", "Bold: the lowest held-out error at each ridge (relative to the mean diagonal of the Gram matrix).",
                 _heldout_note(saved, params)]
  name = lambda r: ", ".join(f"{k} {r['setting'][k]:g}" for k in varied)
  if 0.0 in ridges:
    top = min((r for r in rows if _ridge(r) == 0.0), key=lambda r: r["test_error"])
    out.append(f"Lowest held-out error without ridge (interpolating): {pct(top['test_error'])}% with {name(top)}.")
  top = min(rows, key=lambda r: r["test_error"])
  out.append(f"Lowest held-out error: {pct(top['test_error'])}% with {name(top)}, ridge {_ridge(top):g} x mean "
             "diagonal.")
  return out


def theorem1(saved: dict) -> list[str]:
  """Theorem 1's depth-two interpolants and the Rademacher complexity estimates.

  Reads ``theorem1``: one row per sample size, with ``n``, ``params`` (the network's
  weights), ``params_scalar_2n_plus_d``, ``max_residual``, ``train_accuracy``,
  ``test_accuracy``, ``seconds``, ``min_gap``, ``range`` and ``max_abs_weight``
  (:func:`rethink_jax.theory.conditioning`), and, where computed (n <= 4,000), ``cond_A``;
  and ``rademacher``: ``{model class: {"estimate", "stderr"}}``."""
  lines = ["| n | weights | 2n + d | max residual | train acc | test acc | min gap / range | seconds |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for r in saved["theorem1"]:
    lines.append(f"| {r['n']:,} | {r['params']:,} | {r['params_scalar_2n_plus_d']:,} | {r['max_residual']:.1e} | "
                 f"{pct(r['train_accuracy'])}% | {pct(r['test_accuracy'])}% | {r['min_gap'] / r['range']:.1e} | "
                 f"{r['seconds']:.1f} |")
  conditioned = [r for r in saved["theorem1"] if "cond_A" in r]  # computed for n <= 4,000
  if conditioned:
    lines += ["", "| n | cond(A) (2-norm) | min gap / range | max abs weight |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['n']:,} | {r['cond_A']:.1e} | {r['min_gap'] / r['range']:.1e} | {r['max_abs_weight']:.1e} |"
              for r in conditioned]
  lines += ["", "| model class | empirical Rademacher complexity |", "|---|---|"]
  for name, est in saved["rademacher"].items():
    lines.append(f"| {name} | {est['estimate']:.3f} ± {est['stderr']:.3f} |")
  return lines
