"""The paper's tables and figures, each rebuilt from the run records of the sweep that
reproduces it (a folder with ``sweep.json``, which names the artifact): :data:`ARTIFACTS`
maps each artifact to what its report makes, and :func:`build` checks the sweep is complete
before building it. Each report reads only a sweep of its own artifact: another sweep raises
:class:`~rethink_jax.records.RecordError` naming both."""

from __future__ import annotations

import math
import pathlib

from rethink_jax import paper, records
from rethink_jax.report.common import (KIND_LABELS, atomic_png, atomic_text, data_label, duration, line_style, pct,
                                       provenance, pyplot)
from rethink_jax.report.scores import memorization_scores


def _load(sweep_dir, fn: str, artifact: str) -> dict:
  """The runs of the sweep in ``sweep_dir``, which must reproduce ``artifact`` (the report ``fn`` of
  another artifact's sweep would fail on its run metadata, or draw an empty figure)."""
  saved, runs = records.read_sweep(sweep_dir)
  if saved != artifact:
    raise records.RecordError(f"{fn}: {pathlib.Path(sweep_dir) / records.SWEEP} names the artifact {saved!r}; {fn} "
                              f"reports only {artifact!r} sweeps (report.build picks the report a sweep names).")
  return runs


def _subject(runs: dict) -> str:
  """Models and data of a sweep, for titles: ``mlp_1x512, CIFAR-10 full``."""
  models = sorted({str(r["config"].get("model") or r["meta"].get("model", "")) for r in runs.values()} - {""})
  data = sorted({data_label(r["summary"]["dataset"]) for r in runs.values() if r["summary"]})
  return ", ".join([" / ".join(models)] * bool(models) + ["; ".join(data)] * bool(data))


def table1(sweep_dir) -> pathlib.Path:
  """Table 1: train / test accuracy (%) per row, ours beside the paper's, with each row's
  training time and images/s, and the commands that made the rows (from their segments).

  A row still training (or stopped before its budget) shows its last evaluation, marked
  unfinished with the step it reached of its budget: it never reads as fitted."""
  runs = _load(sweep_dir, "table1", "table1")
  lines = ["| model | random crop | weight decay | train (ours) | test (ours) | train (paper) | test (paper) | steps "
           "| training time | images/s |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  unfinished, unfitted = [], []
  for name, run in runs.items():
    m = run["meta"]
    s, steps = run["summary"], None
    if s is None and (progress := unfinished_progress(run)) is not None:
      s, steps = progress
      unfinished.append(name)
    elif s is not None and run["config"].get("stop_at_fit") and s.get("time_to_fit") is None:
      steps = f"{s['step']} (budget; not fitted)"  # trained to its budget without reaching the fit threshold
      unfitted.append(name)
    key = (m["model"], m["random_crop"], m["weight_decay"], m["random_labels"])
    ref = paper.TABLE1.get(key)
    label = m["model"] + (" (random labels)" if m["random_labels"] else "")
    lines.append(f"| {label} | {'yes' if m['random_crop'] else 'no'} | {'yes' if m['weight_decay'] else 'no'} | "
                 f"{pct(s and s['train_accuracy'])} | {pct(s and s['test_accuracy'])} | "
                 f"{'—' if ref is None else f'{ref[0]:.2f}'} | {'—' if ref is None else f'{ref[1]:.2f}'} | "
                 f"{steps or (s['step'] if s else 'not run')} | {_row_cost(run['config'], s)} |")
  note = ("\n\nUnfinished rows give their last evaluation, the step it was made at (of the row's budget) and the "
          "training time up to it; they have not reached 100% train accuracy." if unfinished else "")
  note += ("\n\nRows marked \"budget; not fitted\" trained for the whole budget set before they started and stopped "
           "there below 100% train accuracy." if unfitted else "")
  text = ("# Table 1: CIFAR-10 train / test accuracy (%)\n\n" + "\n".join(lines) + note
          + f"\n\n{provenance(runs)}\n" + _commands(runs))
  return atomic_text(pathlib.Path(sweep_dir) / "table1.md", text)


def table1_curves(sweep_dir) -> pathlib.Path:
  """``table1.png``: each row's train accuracy (solid) and test accuracy (dotted) at its
  evaluations against epochs, unfinished rows as far as they got: how each row fits."""
  runs = _load(sweep_dir, "table1_curves", "table1")
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(6.5, 4))
  for i, (name, run) in enumerate(runs.items()):
    rows = [r for r in run["metrics"] if "train_accuracy" in r and "test_accuracy" in r and "epoch" in r]
    if not rows:
      continue
    style = {**line_style(i, len(rows)), "ls": "-"}  # the markers tell rows apart; the line, train from test
    line, = ax.plot([r["epoch"] for r in rows], [100 * r["train_accuracy"] for r in rows],
                    label=name + ("" if run["summary"] else " (unfinished)"), **style)
    ax.plot([r["epoch"] for r in rows], [100 * r["test_accuracy"] for r in rows], color=line.get_color(),
            **{**style, "ls": ":", "alpha": 0.7})
  ax.set_xlabel("epochs")
  ax.set_ylabel("accuracy (%): train solid, test dotted")
  ax.set_ylim(0, 102)
  ax.set_title(f"Table 1: train and test accuracy over training\n{_subject(runs)}", fontsize=10)
  if ax.get_legend_handles_labels()[0]:  # rows started but not yet evaluated have no curve
    ax.legend(fontsize=8)
  else:
    ax.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=ax.transAxes)
  out = atomic_png(fig, pathlib.Path(sweep_dir) / "table1.png")
  plt.close(fig)
  return out


def unfinished_progress(run: dict) -> tuple[dict, str] | None:
  """A run with no summary yet, as far as it got: its last evaluation row (train and test
  accuracy, step, epoch, training time so far over all its processes) and ``"7800 of 39000
  (unfinished)"``; ``None`` if it has not been evaluated."""
  evals = [r for r in run["metrics"] if "train_accuracy" in r and "test_accuracy" in r]
  cfg_path = pathlib.Path(run["dir"]) / records.CONFIG
  if not evals or not cfg_path.exists():
    return None
  budget = math.ceil(run["config"]["num_epochs"] * records.read_json(cfg_path)["steps_per_epoch"])
  last = evals[-1]
  return ({k: last.get(k) for k in ("train_accuracy", "test_accuracy", "step", "epoch", "train_seconds")},
          f"{last['step']} of {budget} (unfinished)")


def _row_cost(config: dict, s: dict | None) -> str:
  """``training time | images/s`` of a row: its processes' training time (segments), and
  the images its steps trained per second of it."""
  if not s or not s["train_seconds"]:
    return "— | —"
  seconds = s["train_seconds"] / s.get("vmapped_runs", 1)  # a vmapped group's time, shared by its runs
  return f"{duration(seconds)} | {s['step'] * config['batch_size'] / seconds:,.0f}"


def _commands(runs: dict) -> str:
  """The command lines that trained the runs (each process's, from ``segments.json``; runs
  recorded before segments kept them have none)."""
  from rethink_jax import segments

  seen = []
  for run in runs.values():
    for seg in segments.read_segments(run["dir"]) if pathlib.Path(run["dir"]).is_dir() else []:
      if seg.get("command") and seg["command"] not in seen:
        seen.append(seg["command"])
  return "".join(["\nMade by:\n\n"] + [f"    {c}\n" for c in seen]) if seen else ""


def appendix(sweep_dir) -> pathlib.Path:
  """Appendix table: random labels with regularizers, train accuracy (%)."""
  runs = _load(sweep_dir, "appendix", "appendix")
  lines = ["| model | regularizer | train (ours) | train (paper) | steps |", "|---|---|---:|---:|---:|"]
  for run in runs.values():
    m, s = run["meta"], run["summary"]
    ref = paper.APPENDIX.get((m["model"], m["regularizer"]), "—")
    ref = "fails to converge" if ref is None else (ref if isinstance(ref, str) else f"{ref:.2f}")
    lines.append(f"| {m['model']} | {m['regularizer']} | {pct(s and s['train_accuracy'])} | {ref} | "
                 f"{s['step'] if s else 'not run'} |")
  text = ("# Appendix: random labels with regularizers, train accuracy (%)\n\n" + "\n".join(lines)
          + f"\n\n{provenance(runs)}\n")
  return atomic_text(pathlib.Path(sweep_dir) / "appendix.md", text)


def figure1a(sweep_dir) -> pathlib.Path:
  """Figure 1a: average training loss (on the batches as trained) against steps."""
  runs = _load(sweep_dir, "figure1a", "figure1a")
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  for i, kind in enumerate(paper.FIGURE1_KINDS):
    run = next((r for r in runs.values() if r["meta"].get("kind") == kind), None)
    if run is None:
      continue
    rows = [r for r in run["metrics"] if "batch_loss" in r]
    label = KIND_LABELS[kind] + ("" if rows else " (not run)")  # a sweep that grows: its legend says what is missing
    ax.plot([r["step"] for r in rows], [r["batch_loss"] for r in rows], label=label, **line_style(i, len(rows)))
  ax.set_xlabel("steps")
  ax.set_ylabel("average training loss")
  ax.set_title(f"Figure 1a: fitting the randomization tests\n{_subject(runs)}", fontsize=10)
  ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: no curve is hidden under it
  out = atomic_png(fig, pathlib.Path(sweep_dir) / "figure1a.png")
  plt.close(fig)
  return out


def figure1a_table(sweep_dir) -> pathlib.Path:
  """Figure 1a's numbers (``figure1a.md``): per randomization test, the run's end, time to
  fit and test accuracy, in the paper's order of convergence."""
  runs = _load(sweep_dir, "figure1a_table", "figure1a")
  lines = ["| test | steps | train acc | test acc | time to fit | training time |", "|---|---:|---:|---:|---:|---:|"]
  for kind in paper.FIGURE1_CONVERGENCE_ORDER:
    run = next((r for r in runs.values() if r["meta"].get("kind") == kind), None)
    if run is None:
      continue
    s = run["summary"]
    progress = None if s else unfinished_progress(run)
    if progress:  # as far as it got: never a fit
      s, steps = progress
      lines.append(f"| {KIND_LABELS[kind]} | {steps} | {pct(s['train_accuracy'])} | {pct(s['test_accuracy'])} | "
                   f"not yet | {duration(s['train_seconds'] or 0.0)} |")
      continue
    if not s:
      lines.append(f"| {KIND_LABELS[kind]} | not run | | | | |")
      continue
    fit = s["time_to_fit"]
    fit_text = f"epoch {fit['epoch']:.0f} (step {fit['step']:,})" if fit else "not reached"
    lines.append(f"| {KIND_LABELS[kind]} | {s['step']:,} (epoch {s['epoch']:.0f}) | {pct(s['train_accuracy'])} | "
                 f"{pct(s['test_accuracy'])} | {fit_text} | {duration(s['train_seconds'])} |")
  text = ("# Figure 1a: the randomization tests (%), in the paper's order of convergence\n\n" + "\n".join(lines)
          + f"\n\n{provenance(runs)}\n")
  return atomic_text(pathlib.Path(sweep_dir) / "figure1a.md", text)


def _corruption_levels(runs: dict) -> tuple[list[float], int, dict]:
  """``(levels, number of seeds, series)`` of a label-corruption sweep: per corruption level
  ``p``, over the seeds that ran it, ``series["steps"][p]`` (steps to fit), ``["relative"]``
  (relative to the seed's own p = 0 run), ``["error"]`` (test error) and ``["train"]``
  (train accuracy)."""
  by_seed: dict = {}
  for r in runs.values():
    if r["summary"]:
      seed = r["meta"]["seed"] if "seed" in r["meta"] else r["config"].get("seed")  # older sweeps: the config's
      by_seed.setdefault(seed, {})[r["meta"]["p"]] = r["summary"]
  levels = sorted({p for per_p in by_seed.values() for p in per_p})
  fit_steps = lambda s: s["time_to_fit"]["step"] if s and s["time_to_fit"] else None
  series = {"steps": {}, "relative": {}, "error": {}, "train": {}}
  for p in levels:
    seeds = [d for d in by_seed.values() if p in d]
    series["steps"][p] = [fit_steps(d[p]) for d in seeds if fit_steps(d[p])]
    series["relative"][p] = [fit_steps(d[p]) / fit_steps(d.get(0.0)) for d in seeds
                             if fit_steps(d[p]) and fit_steps(d.get(0.0))]
    series["error"][p] = [1 - d[p]["test_accuracy"] for d in seeds]
    series["train"][p] = [d[p]["train_accuracy"] for d in seeds]
  return levels, len(by_seed), series


def figure1bc(sweep_dir) -> list[pathlib.Path]:
  """Figures 1b (time to fit / time at p=0) and 1c (test error) against label corruption.

  With several seeds (runs whose metadata carry ``seed``), each point is the mean over
  seeds with a bar of one standard deviation; a seed's time to fit is relative to its own
  p = 0 run.
  """
  import numpy as np

  runs = _load(sweep_dir, "figure1bc", "figure1bc")
  levels, n_seeds, series = _corruption_levels(runs)
  plt = pyplot()
  outs = []
  for name, values, ylabel, title in (
      ("figure1b.png", series["relative"], "time to fit / time to fit with true labels",
       "Figure 1b: convergence slowdown"),
      ("figure1c.png", series["error"], "test error", "Figure 1c: generalization error growth")):
    fig, ax = plt.subplots(figsize=(5, 4))
    xs = [p for p in levels if values[p]]
    ax.errorbar(xs, [np.mean(values[p]) for p in xs], yerr=[np.std(values[p]) for p in xs], fmt="o-", capsize=3)
    ax.set_xlabel("label corruption")
    ax.set_ylabel(ylabel)
    if name == "figure1c.png":
      ax.set_ylim(0, 1)
    ax.set_title(f"{title}\n{_subject(runs)}", fontsize=10)
    outs.append(atomic_png(fig, pathlib.Path(sweep_dir) / name))
    plt.close(fig)
  outs.append(_figure1bc_table(runs, levels, n_seeds, series, pathlib.Path(sweep_dir) / "figure1bc.md"))
  return outs


def _figure1bc_table(runs: dict, levels: list[float], n_seeds: int, series: dict, path: pathlib.Path) -> pathlib.Path:
  """Figures 1b and 1c's numbers per corruption level (:func:`_corruption_levels`), mean ±
  standard deviation when there are several seeds."""
  import numpy as np

  spread = lambda v, fmt: (fmt(np.mean(v)) + (f" ± {fmt(np.std(v))}" if n_seeds > 1 else "")) if v else "—"
  steps, rel, err, train_acc = series["steps"], series["relative"], series["error"], series["train"]
  rows = ["| corruption p | time to fit (steps) | relative | train acc | test error |", "|---:|---:|---:|---:|---:|"]
  for p in levels:
    rows.append(f"| {p:.2f} | {spread(steps[p], lambda x: f'{x:.0f}') if steps[p] else 'not reached'} | "
                f"{spread(rel[p], lambda x: f'{x:.2f}')} | {spread(train_acc[p], pct)} | "
                f"{spread(err[p], pct)} |")
  seeds_note = f"Mean ± standard deviation over {n_seeds} seeds.\n\n" if n_seeds > 1 else ""
  return atomic_text(path, "# Figures 1b and 1c\n\n" + seeds_note + "\n".join(rows) + f"\n\n{provenance(runs)}\n")


def _early_stopping_plot(runs: dict, key: str, label, title: str, ylabel: str, path: pathlib.Path) -> pathlib.Path:
  """Accuracy ``key`` against steps per run, shaded up to its cumulative best (Figure 2)."""
  import numpy as np

  plt = pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  for i, run in enumerate(runs.values()):
    rows = [r for r in run["metrics"] if key in r]
    if not rows:
      continue
    steps = np.array([r["step"] for r in rows])
    acc = np.array([r[key] for r in rows])
    line, = ax.plot(steps, acc, label=label(run["meta"]), **line_style(i, len(rows)))
    ax.fill_between(steps, acc, np.maximum.accumulate(acc), color=line.get_color(), alpha=0.25)
  ax.set_xlabel("steps")
  ax.set_ylabel(ylabel)
  ax.set_title(f"{title}\n{_subject(runs)}", fontsize=10)
  ax.legend()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def figure2b(sweep_dir) -> pathlib.Path:
  """Figure 2b: test accuracy over training; shaded up to the cumulative best (early stopping)."""
  return _early_stopping_plot(_load(sweep_dir, "figure2b", "figure2b"), "test_accuracy", lambda m: m["model"],
                              "Figure 2b: implicit regularization (shaded: cumulative best)", "test accuracy",
                              pathlib.Path(sweep_dir) / "figure2b.png")


def figure2b_table(sweep_dir) -> pathlib.Path:
  """Figure 2b's numbers (``figure2b.md``): per model, test accuracy at the end and at its
  best, and the gap early stopping would close."""
  runs = _load(sweep_dir, "figure2b_table", "figure2b")
  lines = ["| model | steps | train acc | test acc (end) | best test acc | at step | gap |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  for run in runs.values():
    rows = [r for r in run["metrics"] if "test_accuracy" in r]
    s = run["summary"]
    if not rows or not s:
      lines.append(f"| {run['meta']['model']} | not run | | | | | |")
      continue
    best = max(rows, key=lambda r: r["test_accuracy"])
    lines.append(f"| {run['meta']['model']} | {s['step']} | {pct(s['train_accuracy'])} | {pct(s['test_accuracy'])} "
                 f"| {pct(best['test_accuracy'])} | {best['step']} | "
                 f"{pct(best['test_accuracy'] - s['test_accuracy'])} |")
  text = ("# Figure 2b: test accuracy (%), at the end and at its best\n\n" + "\n".join(lines)
          + f"\n\n{provenance(runs)}\n")
  return atomic_text(pathlib.Path(sweep_dir) / "figure2b.md", text)


def table2(sweep_dir) -> pathlib.Path:
  """Table 2 (ImageNet, Inception V3): top-1 train, top-1 and top-5 test (%), ours beside the paper's."""
  runs = _load(sweep_dir, "table2", "table2")
  lines = ["| regularizers | top-1 train (ours) | top-1 test (ours) | top-5 test (ours) | "
           "best top-1 test (ours) | top-1 train (paper) | top-1 test (paper) | top-5 test (paper) | steps |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  num = lambda x: "—" if x is None else f"{x:.2f}"
  order = list(paper.TABLE2)
  for run in sorted(runs.values(), key=lambda r: (order.index(r["meta"]["imagenet_row"])
                                                  if r["meta"]["imagenet_row"] in order else len(order))):
    row, s = run["meta"]["imagenet_row"], run["summary"]
    ref = paper.TABLE2.get(row, (None, None, None, None))  # rows of our own (e.g. "tiny"): no paper numbers
    best_ref = f" ({ref[3]:.2f})" if ref[3] is not None else ""
    lines.append(f"| {paper.TABLE2_ROWS.get(row, row)} | {pct(s and s['train_top1'])} | {pct(s and s['test_top1'])} | "
                 f"{pct(s and s['test_top5'])} | {pct(s and s['best_test_top1'])} | {num(ref[0])} | "
                 f"{num(ref[1])}{best_ref} | {num(ref[2])} | {s['step'] if s else 'not run'} |")
  text = ("# Table 2: ImageNet, Inception V3 (%)\n\nPaper: best top-1 test during training in parentheses.\n\n"
          + "\n".join(lines) + f"\n\n{provenance(runs)}\n")
  return atomic_text(pathlib.Path(sweep_dir) / "table2.md", text)


def figure2a(sweep_dir) -> pathlib.Path:
  """Figure 2a: ImageNet top-1 test accuracy over training, shaded up to the cumulative best."""
  label = lambda meta: paper.TABLE2_ROWS.get(meta["imagenet_row"], meta["imagenet_row"])
  return _early_stopping_plot(_load(sweep_dir, "figure2a", "table2"), "test_top1", label,
                              "Figure 2a: ImageNet (shaded: cumulative best)",
                              "top-1 test accuracy", pathlib.Path(sweep_dir) / "figure2a.png")


def memorization_stats(run: dict) -> dict | None:
  """Per-run dynamics from its ``examples.npz`` (:mod:`rethink_jax.dynamics`), or None if absent."""
  import numpy as np

  from rethink_jax import dynamics

  path = pathlib.Path(run["dir"]) / records.EXAMPLES
  if not path.exists() or not run["summary"]:
    return None
  ex = records.read_examples(path)
  spe = records.read_json(pathlib.Path(run["dir"]) / records.CONFIG)["steps_per_epoch"]
  correct, noisy = ex["correct"], ex["corrupted"]
  fitted = {k: np.asarray(v) for k, v in dynamics.fraction_fitted(correct, noisy).items()}
  good = dynamics.evaluation_epochs(dynamics.learned_for_good(correct), ex["eval_steps"], spe)
  forgot = np.asarray(dynamics.forgetting_events(correct))
  clean_pred = dynamics.clean_predictions_before_memorized(correct, ex["pred_is_clean_label"], noisy)
  epochs = ex["eval_epochs"]

  def half(curve):  # first epoch with at least half the group fitted
    hit = np.flatnonzero(curve >= 0.5)
    return float(epochs[hit[0]]) if hit.size else None

  test = [r for r in run["metrics"] if "test_accuracy" in r]
  return {"epochs": epochs, "fitted": fitted, "learned_for_good_epoch": good, "forgetting": forgot, "corrupted": noisy,
          "clean_prediction_rate": float(clean_pred["rate"]), "half_clean": half(fitted["clean"]),
          "half_corrupted": half(fitted["corrupted"]), "test_epochs": [r["epoch"] for r in test],
          "test_accuracy": [r["test_accuracy"] for r in test]}


_MARKERS = ["o", "s", "^", "D", "v", "P"]

_MEMORIZATION_INTRO = (
    "# Memorization dynamics\n\nFitted: classified as the training label at the last evaluation. Learned for good: "
    "fitted from that evaluation to the end. Forgetting events: fitted -> not fitted between consecutive evaluations. "
    "Clean label predicted before memorized: over corrupted examples, the share of evaluations before each was "
    "learned for good at which the network predicted its clean label.\n\n")

_MEMORIZATION_HEADER = (
    "| model | p | corrupted % | clean fitted % | corrupted fitted % | epoch 50% clean | epoch 50% corrupted | "
    "median learned-for-good epoch, clean | ... corrupted | forgetting events, clean | ... corrupted | "
    "clean label predicted before memorized % | test acc % | epochs |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def memorization(sweep_dir) -> list[pathlib.Path]:
  """Memorization dynamics (beyond the paper): per model, fraction of clean and corrupted
  training examples fitted per epoch, test accuracy, when examples are learned for good,
  and forgetting events (``memorization-<model>.png``), and a table (``memorization.md``)."""
  runs = _load(sweep_dir, "memorization", "memorization")
  stats = {name: memorization_stats(r) for name, r in runs.items()}
  stats = {name: st for name, st in stats.items() if st is not None}
  outs, rows = [], []
  for model in sorted({runs[n]["meta"]["model"] for n in stats}):
    names = sorted((n for n in stats if runs[n]["meta"]["model"] == model), key=lambda n: runs[n]["meta"]["p"])
    outs.append(_memorization_figure(runs, stats, model, names, pathlib.Path(sweep_dir) / f"memorization-{model}.png"))
    rows += [_memorization_row(model, runs[name], stats[name]) for name in names]
  outs.append(atomic_text(pathlib.Path(sweep_dir) / "memorization.md", _MEMORIZATION_INTRO + _MEMORIZATION_HEADER
                          + "\n" + "\n".join(rows) + f"\n\n{provenance(runs)}\n"))
  return outs


def _memorization_figure(runs: dict, stats: dict, model: str, names: list[str], path: pathlib.Path) -> pathlib.Path:
  """One model's four panels: fitted fractions, test accuracy, learned-for-good epochs and
  forgetting events, one colour per corruption level (``names``, by ``p``)."""
  plt = pyplot()
  data = data_label(runs[names[0]]["summary"]["dataset"])
  fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for j, name in enumerate(names):
    _memorization_curves(axes, j, runs[name], stats[name], colors[j % len(colors)], _MARKERS[j % len(_MARKERS)])
  _learned_for_good_panel(axes[2], runs, stats, names)
  axes[0].set(xlabel="epoch", ylabel="fraction of training examples fitted", ylim=(0, 1.02),
              title="fitted to their training label")
  axes[0].legend(fontsize=7, ncol=2)
  axes[1].set(xlabel="epoch", ylabel="test accuracy (clean test labels)", title="test accuracy")
  axes[1].legend(fontsize=7)
  axes[3].set_xticks(range(len(names)), [runs[n]["meta"]["p"] if runs[n]["meta"]["p"] < 1 else "random"
                                         for n in names])
  axes[3].set(xlabel="label corruption p", ylabel="forgetting events per example",
              title="forgetting (plain: clean, hatched: corrupted)")
  fig.suptitle(f"Memorization dynamics: {model}, {data}, partially corrupted and random labels")
  fig.tight_layout()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def _memorization_curves(axes, j: int, run: dict, st: dict, color, marker: str) -> None:
  """Run ``j`` of a model's figure: its fitted fractions (panel 0), test accuracy (panel 1)
  and forgetting bars, clean plain and corrupted hatched (panel 3)."""
  import numpy as np

  p = run["meta"]["p"]
  label = "random labels" if run["config"]["corruption"]["kind"] == "random_labels" else f"p = {p:g}"
  every = max(1, len(st["epochs"]) // 12)
  if not np.isnan(st["fitted"]["clean"]).all():
    axes[0].plot(st["epochs"], st["fitted"]["clean"], "-", color=color, marker=marker, markevery=every,
                 label=f"{label}: clean")
  axes[0].plot(st["epochs"], st["fitted"]["corrupted"], "--", color=color, marker=marker, markevery=every,
               mfc="none", label=f"{label}: corrupted")
  axes[1].plot(st["test_epochs"], st["test_accuracy"], "-", color=color, marker=marker, markevery=every, label=label)
  noisy = st["corrupted"]
  axes[3].bar([j - 0.2, j + 0.2], [st["forgetting"][~noisy].mean() if (~noisy).any() else 0,
                                   st["forgetting"][noisy].mean() if noisy.any() else 0],
              width=0.4, color=[color, "white"], edgecolor=color, hatch=[None, "//"])


def _learned_for_good_panel(ax, runs: dict, stats: dict, names: list[str]) -> None:
  """One run's learned-for-good epochs, clean against corrupted: the run whose corruption
  level is nearest 0.4 (both groups large)."""
  import numpy as np

  shown = min(names, key=lambda n: abs(runs[n]["meta"]["p"] - 0.4))
  st = stats[shown]
  good, noisy = st["learned_for_good_epoch"], st["corrupted"]
  bins = np.arange(0, st["epochs"][-1] + 2) - 0.5
  for group, label, style in ((~noisy, "clean", dict(alpha=0.5)), (noisy, "corrupted", dict(histtype="step",
                                                                                             hatch="//"))):
    values = good[group & ~np.isnan(good)]
    never = int((group & np.isnan(good)).sum())
    if values.size:
      ax.hist(values, bins=bins, label=f"{label} ({never:,} not fitted at the end)", **style)
  ax.set(xlabel="epoch learned for good", ylabel="training examples",
         title=f"learned for good, p = {runs[shown]['meta']['p']:g}")
  ax.legend(fontsize=7)


def _memorization_row(model: str, run: dict, st: dict) -> str:
  """A run's row of ``memorization.md`` (:data:`_MEMORIZATION_HEADER`)."""
  import numpy as np

  s, noisy, good, p = run["summary"], st["corrupted"], st["learned_for_good_epoch"], run["meta"]["p"]
  med = lambda m: "—" if not m.any() or np.isnan(good[m]).all() else f"{np.nanmedian(good[m]):.0f}"
  epoch = lambda e: "—" if e is None else f"{e:.0f}"
  return (f"| {model} | {'random' if p >= 1 else p} | "
          f"{pct(noisy.mean())} | {pct(st['fitted']['clean'][-1]) if (~noisy).any() else '—'} | "
          f"{pct(st['fitted']['corrupted'][-1])} | {epoch(st['half_clean'])} | "
          f"{epoch(st['half_corrupted'])} | {med(~noisy)} | {med(noisy)} | "
          f"{st['forgetting'][~noisy].mean() if (~noisy).any() else float('nan'):.2f} | "
          f"{st['forgetting'][noisy].mean():.2f} | {pct(st['clean_prediction_rate'])} | "
          f"{pct(s['test_accuracy'])} | {s['epoch']:.0f} |")


class IncompleteSweepError(records.RecordError):
  """A sweep's ``sweep.json`` lists runs that are missing or unfinished."""


def sweep_gaps(runs: dict) -> dict[str, str]:
  """``{name: what is wrong}`` for every run of a sweep (:func:`rethink_jax.records.read_sweep`)
  that is missing, unfinished, or whose metrics end before the step its summary names."""
  gaps = {}
  for name, run in runs.items():
    rows = run["metrics"]
    if not (pathlib.Path(run["dir"]) / records.CONFIG).exists():
      gaps[name] = "missing (no run directory)"
    elif run["summary"] is None:
      gaps[name] = f"unfinished (metrics up to step {rows[-1]['step'] if rows else 0}, no summary)"
    elif not rows or rows[-1]["step"] < run["summary"]["step"]:
      gaps[name] = (f"metrics end at step {rows[-1]['step'] if rows else 0} but the summary names step "
                    f"{run['summary']['step']}")
  return gaps


def build(sweep_dir, *, partial: bool = False) -> list[pathlib.Path]:
  """Everything a sweep reproduces: the paper artifact its ``sweep.json`` names.

  A run that ``sweep.json`` lists but that is missing or unfinished (:func:`sweep_gaps`)
  raises :class:`IncompleteSweepError` naming each, unless ``partial``: then the tables and
  figures are built from the runs there, and each table says which runs it lacks."""
  artifact, runs = records.read_sweep(sweep_dir)
  if not runs:
    return []
  gaps = sweep_gaps(runs)
  if gaps and not partial:
    raise IncompleteSweepError(f"{sweep_dir} is incomplete: " + "; ".join(f"{k} {v}" for k, v in gaps.items())
                               + ". Pass --partial to report the runs that are there.")
  if artifact not in ARTIFACTS:
    raise records.RecordError(f"{pathlib.Path(sweep_dir) / records.SWEEP} names the artifact {artifact!r}, which "
                              f"this version does not report (it reports {', '.join(ARTIFACTS)}).")
  out = ARTIFACTS[artifact](sweep_dir)
  if gaps:  # a partial report says what it lacks, in every table it writes
    note = "\n**Incomplete sweep**: " + "; ".join(f"`{k}` {v}" for k, v in gaps.items()) + ".\n"
    for path in out:
      if path.suffix == ".md":
        atomic_text(path, path.read_text() + note)
  return out


# Every paper artifact a sweep can reproduce, and what its report makes (declared once: a new
# artifact is an entry here, its report functions above and its configs/<artifact>.py).
ARTIFACTS = {"table1": lambda d: [table1(d), table1_curves(d)], "appendix": lambda d: [appendix(d)],
             "figure1a": lambda d: [figure1a(d), figure1a_table(d)], "figure1bc": figure1bc,
             "figure2b": lambda d: [figure2b(d), figure2b_table(d)],
             "table2": lambda d: [table2(d), figure2a(d)], "memorization": memorization,
             "memorization_scores": memorization_scores}
