"""Tables and figures of the paper rebuilt from run records, never by hand.

``python -m rethink_jax.report PATH [PATH ...]`` finds every sweep directory below each
``PATH`` (a folder with ``sweep.json``) and writes, next to it, what that sweep reproduces
(a single run directory outside a sweep gets ``curves.png`` and ``summary.md``,
:func:`single_run`); a path that does not exist or holds no run record, or a corrupt
record (named by its path), exits with status 2:

* Table 1 (``table1.md``) and the Appendix table (``appendix.md``), with the paper's
  numbers in a column beside ours;
* Figure 1a (``figure1a.png``, ``figure1a.md``): training loss against steps for the five
  randomization tests, and each test's time to fit;
* Figures 1b and 1c (``figure1b.png``, ``figure1c.png``): time to fit relative to true
  labels, and test error at the end, against the label corruption level;
* Figure 2b (``figure2b.png``, ``figure2b.md``): test accuracy over training, the
  cumulative best shaded;
* Table 2 (``table2.md``) and Figure 2a (``figure2a.png``) from ImageNet runs;
* memorization dynamics (``memorization.md``, ``memorization-<model>.png``), beyond the
  paper, from the runs' per-example records;
* Section 5 and Theorem 1 (``minnorm_mnist.md``, ``minnorm_cifar.md``, ``theorem1.md``)
  from the ``results.json`` of the min-norm and Theorem 1 scripts;
* the benchmarks' timings (``train_throughput.md``, ``vmapped_sweep.md``,
  ``minnorm_scaling.md``, ``conv_profile.md``) from the ``results.json`` of the scripts of
  the same names in ``benchmarks/``, run with ``--out``.

Each output is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import pathlib
import sys

from rethink_jax import corruptions, paper, records, segments

__all__ = ["table1", "appendix", "figure1a", "figure1a_table", "figure1bc", "figure2b", "figure2b_table", "table2",
           "figure2a", "memorization", "memorization_stats", "single_run", "script_results", "build", "build_all", "main"]

KIND_LABELS = {kind: spec.label for kind, spec in corruptions.REGISTRY.items()}  # declared with each corruption


def _duration(seconds: float) -> str:
  return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _pct(x) -> str:
  return "—" if x is None else f"{100 * x:.2f}"


def _devices(env: dict) -> str:
  """``1 x cpu (cpu), jax 0.10.2``: the devices and jax version of a record's environment."""
  return (f"{env.get('device_count', '?')} x {'/'.join(env.get('device_kinds', []))} ({env.get('backend', '?')}), "
          f"jax {env.get('versions', {}).get('jax', '?')}")


def _provenance(runs: dict) -> str:
  """Data, devices and total training time of a sweep, from its run records."""
  datasets, devices, seconds = set(), set(), 0.0
  for run in runs.values():
    if run["summary"]:
      datasets.add(run["summary"]["dataset"].split(" | corrupted")[0])
      # a vmapped group's runs each record the group's time: count it once per group
      seconds += run["summary"]["train_seconds"] / run["summary"].get("vmapped_runs", 1)
  for name in runs:
    cfg = pathlib.Path(runs[name]["dir"]) / records.CONFIG
    if cfg.exists():
      env = records.read_json(cfg)["environment"]
      devices.add(_devices(env))
  return (f"Data: {'; '.join(sorted(datasets)) or '—'}. Devices: {'; '.join(sorted(devices)) or '—'}. "
          f"Training time, all runs: {seconds / 60:.1f} min.")


LINE_STYLES = [dict(ls="-", marker="o"), dict(ls="--", marker="s"), dict(ls="-.", marker="^"), dict(ls=":", marker="D"),
               dict(ls="-", marker="v"), dict(ls="--", marker="P")]


def _style(i: int, n_points: int) -> dict:
  """Line style and marker of curve ``i``: overlapping curves stay distinguishable."""
  return {**LINE_STYLES[i % len(LINE_STYLES)], "markevery": max(1, n_points // 12), "markersize": 4}


def _subject(runs: dict) -> str:
  """Models and data of a sweep, for titles: ``mlp_1x512, CIFAR-10 full``."""
  models = sorted({str(r["config"].get("model") or r["meta"].get("model", "")) for r in runs.values()} - {""})
  data = sorted({_data_label(r["summary"]["dataset"]) for r in runs.values() if r["summary"]})
  return ", ".join([" / ".join(models)] * bool(models) + ["; ".join(data)] * bool(data))


def _load(sweep_dir) -> dict:
  return records.read_sweep(sweep_dir)[1]


def _atomic_text(path: pathlib.Path, text: str) -> pathlib.Path:
  records.atomic_write_text(path, text)
  return path


def _atomic_png(fig, path: pathlib.Path) -> pathlib.Path:
  records.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"), binary=True)
  return path


def _plt():
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def table1(sweep_dir) -> pathlib.Path:
  """Table 1: train / test accuracy (%) per row, ours beside the paper's."""
  runs = _load(sweep_dir)
  lines = ["| model | random crop | weight decay | train (ours) | test (ours) | train (paper) | test (paper) | steps |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
  for name, run in runs.items():
    m, s = run["meta"], run["summary"]
    key = (m["model"], m["random_crop"], m["weight_decay"], m["random_labels"])
    ref = paper.TABLE1.get(key)
    label = m["model"] + (" (random labels)" if m["random_labels"] else "")
    lines.append(f"| {label} | {'yes' if m['random_crop'] else 'no'} | {'yes' if m['weight_decay'] else 'no'} | "
                 f"{_pct(s and s['train_accuracy'])} | {_pct(s and s['test_accuracy'])} | "
                 f"{'—' if ref is None else f'{ref[0]:.2f}'} | {'—' if ref is None else f'{ref[1]:.2f}'} | "
                 f"{s['step'] if s else 'not run'} |")
  text = "# Table 1: CIFAR-10 train / test accuracy (%)\n\n" + "\n".join(lines) + f"\n\n{_provenance(runs)}\n"
  return _atomic_text(pathlib.Path(sweep_dir) / "table1.md", text)


def appendix(sweep_dir) -> pathlib.Path:
  """Appendix table: random labels with regularizers, train accuracy (%)."""
  runs = _load(sweep_dir)
  lines = ["| model | regularizer | train (ours) | train (paper) | steps |", "|---|---|---:|---:|---:|"]
  for run in runs.values():
    m, s = run["meta"], run["summary"]
    ref = paper.APPENDIX.get((m["model"], m["regularizer"]), "—")
    ref = "fails to converge" if ref is None else (ref if isinstance(ref, str) else f"{ref:.2f}")
    lines.append(f"| {m['model']} | {m['regularizer']} | {_pct(s and s['train_accuracy'])} | {ref} | "
                 f"{s['step'] if s else 'not run'} |")
  text = ("# Appendix: random labels with regularizers, train accuracy (%)\n\n" + "\n".join(lines)
          + f"\n\n{_provenance(runs)}\n")
  return _atomic_text(pathlib.Path(sweep_dir) / "appendix.md", text)


def figure1a(sweep_dir) -> pathlib.Path:
  """Figure 1a: average training loss (on the batches as trained) against steps."""
  runs = _load(sweep_dir)
  plt = _plt()
  fig, ax = plt.subplots(figsize=(6, 4))
  for i, kind in enumerate(paper.FIGURE1_KINDS):
    run = next((r for r in runs.values() if r["meta"].get("kind") == kind), None)
    if run is None:
      continue
    rows = [r for r in run["metrics"] if "batch_loss" in r]
    ax.plot([r["step"] for r in rows], [r["batch_loss"] for r in rows], label=KIND_LABELS[kind],
            **_style(i, len(rows)))
  ax.set_xlabel("steps")
  ax.set_ylabel("average training loss")
  ax.set_title(f"Figure 1a: fitting the randomization tests\n{_subject(runs)}", fontsize=10)
  ax.legend()
  out = _atomic_png(fig, pathlib.Path(sweep_dir) / "figure1a.png")
  plt.close(fig)
  return out


def figure1a_table(sweep_dir) -> pathlib.Path:
  """Figure 1a's numbers (``figure1a.md``): per randomization test, the run's end, time to
  fit and test accuracy, in the paper's order of convergence."""
  runs = _load(sweep_dir)
  lines = ["| test | steps | train acc | test acc | time to fit | training time |", "|---|---:|---:|---:|---:|---:|"]
  for kind in paper.FIGURE1_CONVERGENCE_ORDER:
    run = next((r for r in runs.values() if r["meta"].get("kind") == kind), None)
    if run is None:
      continue
    s = run["summary"]
    if not s:
      lines.append(f"| {KIND_LABELS[kind]} | not run | | | | |")
      continue
    fit = s["time_to_fit"]
    fit_text = f"epoch {fit['epoch']:.0f} (step {fit['step']:,})" if fit else "not reached"
    lines.append(f"| {KIND_LABELS[kind]} | {s['step']:,} (epoch {s['epoch']:.0f}) | {_pct(s['train_accuracy'])} | "
                 f"{_pct(s['test_accuracy'])} | {fit_text} | {_duration(s['train_seconds'])} |")
  text = ("# Figure 1a: the randomization tests (%), in the paper's order of convergence\n\n" + "\n".join(lines)
          + f"\n\n{_provenance(runs)}\n")
  return _atomic_text(pathlib.Path(sweep_dir) / "figure1a.md", text)


def figure1bc(sweep_dir) -> list[pathlib.Path]:
  """Figures 1b (time to fit / time at p=0) and 1c (test error) against label corruption.

  With several seeds (runs whose metadata carry ``seed``), each point is the mean over
  seeds with a bar of one standard deviation; a seed's time to fit is relative to its own
  p = 0 run.
  """
  import numpy as np

  runs = _load(sweep_dir)
  by_seed: dict = {}
  for r in runs.values():
    if r["summary"]:
      seed = r["meta"]["seed"] if "seed" in r["meta"] else r["config"].get("seed")  # older sweeps: the config's
      by_seed.setdefault(seed, {})[r["meta"]["p"]] = r["summary"]
  levels = sorted({p for per_p in by_seed.values() for p in per_p})
  fit_steps = lambda s: s["time_to_fit"]["step"] if s and s["time_to_fit"] else None
  rel, err, steps, train_acc = {}, {}, {}, {}
  for p in levels:
    seeds = [d for d in by_seed.values() if p in d]
    steps[p] = [fit_steps(d[p]) for d in seeds if fit_steps(d[p])]
    rel[p] = [fit_steps(d[p]) / fit_steps(d.get(0.0)) for d in seeds if fit_steps(d[p]) and fit_steps(d.get(0.0))]
    err[p] = [1 - d[p]["test_accuracy"] for d in seeds]
    train_acc[p] = [d[p]["train_accuracy"] for d in seeds]
  plt = _plt()
  outs = []
  for name, values, ylabel, title in (
      ("figure1b.png", rel, "time to fit / time to fit with true labels", "Figure 1b: convergence slowdown"),
      ("figure1c.png", err, "test error", "Figure 1c: generalization error growth")):
    fig, ax = plt.subplots(figsize=(5, 4))
    xs = [p for p in levels if values[p]]
    ax.errorbar(xs, [np.mean(values[p]) for p in xs], yerr=[np.std(values[p]) for p in xs], fmt="o-", capsize=3)
    ax.set_xlabel("label corruption")
    ax.set_ylabel(ylabel)
    if name == "figure1c.png":
      ax.set_ylim(0, 1)
    ax.set_title(f"{title}\n{_subject(runs)}", fontsize=10)
    outs.append(_atomic_png(fig, pathlib.Path(sweep_dir) / name))
    plt.close(fig)
  n_seeds = len(by_seed)
  spread = lambda v, fmt: (fmt(np.mean(v)) + (f" ± {fmt(np.std(v))}" if n_seeds > 1 else "")) if v else "—"
  rows = ["| corruption p | time to fit (steps) | relative | train acc | test error |", "|---:|---:|---:|---:|---:|"]
  for p in levels:
    rows.append(f"| {p:.2f} | {spread(steps[p], lambda x: f'{x:.0f}') if steps[p] else 'not reached'} | "
                f"{spread(rel[p], lambda x: f'{x:.2f}')} | {spread(train_acc[p], _pct)} | "
                f"{spread(err[p], _pct)} |")
  seeds_note = f"Mean ± standard deviation over {n_seeds} seeds.\n\n" if n_seeds > 1 else ""
  outs.append(_atomic_text(pathlib.Path(sweep_dir) / "figure1bc.md",
                           "# Figures 1b and 1c\n\n" + seeds_note + "\n".join(rows) + f"\n\n{_provenance(runs)}\n"))
  return outs


def _early_stopping_plot(runs: dict, key: str, label, title: str, ylabel: str, path: pathlib.Path) -> pathlib.Path:
  """Accuracy ``key`` against steps per run, shaded up to its cumulative best (Figure 2)."""
  import numpy as np

  plt = _plt()
  fig, ax = plt.subplots(figsize=(6, 4))
  for i, run in enumerate(runs.values()):
    rows = [r for r in run["metrics"] if key in r]
    if not rows:
      continue
    steps = np.array([r["step"] for r in rows])
    acc = np.array([r[key] for r in rows])
    line, = ax.plot(steps, acc, label=label(run["meta"]), **_style(i, len(rows)))
    ax.fill_between(steps, acc, np.maximum.accumulate(acc), color=line.get_color(), alpha=0.25)
  ax.set_xlabel("steps")
  ax.set_ylabel(ylabel)
  ax.set_title(f"{title}\n{_subject(runs)}", fontsize=10)
  ax.legend()
  out = _atomic_png(fig, path)
  plt.close(fig)
  return out


def figure2b(sweep_dir) -> pathlib.Path:
  """Figure 2b: test accuracy over training; shaded up to the cumulative best (early stopping)."""
  return _early_stopping_plot(_load(sweep_dir), "test_accuracy", lambda m: m["model"],
                              "Figure 2b: implicit regularization (shaded: cumulative best)", "test accuracy",
                              pathlib.Path(sweep_dir) / "figure2b.png")


def figure2b_table(sweep_dir) -> pathlib.Path:
  """Figure 2b's numbers (``figure2b.md``): per model, test accuracy at the end and at its
  best, and the gap early stopping would close."""
  runs = _load(sweep_dir)
  lines = ["| model | steps | train acc | test acc (end) | best test acc | at step | gap |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  for run in runs.values():
    rows = [r for r in run["metrics"] if "test_accuracy" in r]
    s = run["summary"]
    if not rows or not s:
      lines.append(f"| {run['meta']['model']} | not run | | | | | |")
      continue
    best = max(rows, key=lambda r: r["test_accuracy"])
    lines.append(f"| {run['meta']['model']} | {s['step']} | {_pct(s['train_accuracy'])} | {_pct(s['test_accuracy'])} "
                 f"| {_pct(best['test_accuracy'])} | {best['step']} | "
                 f"{_pct(best['test_accuracy'] - s['test_accuracy'])} |")
  text = ("# Figure 2b: test accuracy (%), at the end and at its best\n\n" + "\n".join(lines)
          + f"\n\n{_provenance(runs)}\n")
  return _atomic_text(pathlib.Path(sweep_dir) / "figure2b.md", text)


def table2(sweep_dir) -> pathlib.Path:
  """Table 2 (ImageNet, Inception V3): top-1 train, top-1 and top-5 test (%), ours beside the paper's."""
  runs = _load(sweep_dir)
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
    lines.append(f"| {paper.TABLE2_ROWS.get(row, row)} | {_pct(s and s['train_top1'])} | {_pct(s and s['test_top1'])} | "
                 f"{_pct(s and s['test_top5'])} | {_pct(s and s['best_test_top1'])} | {num(ref[0])} | "
                 f"{num(ref[1])}{best_ref} | {num(ref[2])} | {s['step'] if s else 'not run'} |")
  text = ("# Table 2: ImageNet, Inception V3 (%)\n\nPaper: best top-1 test during training in parentheses.\n\n"
          + "\n".join(lines) + f"\n\n{_provenance(runs)}\n")
  return _atomic_text(pathlib.Path(sweep_dir) / "table2.md", text)


def figure2a(sweep_dir) -> pathlib.Path:
  """Figure 2a: ImageNet top-1 test accuracy over training, shaded up to the cumulative best."""
  label = lambda meta: paper.TABLE2_ROWS.get(meta["imagenet_row"], meta["imagenet_row"])
  return _early_stopping_plot(_load(sweep_dir), "test_top1", label, "Figure 2a: ImageNet (shaded: cumulative best)",
                              "top-1 test accuracy", pathlib.Path(sweep_dir) / "figure2a.png")


def _data_label(dataset: str) -> str:
  """A run's data for titles, from its provenance: the dataset, its size (the embedded sample,
  a first-N subset, full, or the number of training images a file held when the provenance
  gives it and it is not the full set) and "JPEG-decoded" where the provenance says so.

  Reads both provenance forms: the portable one of :mod:`rethink_jax.data` (``cifar10.npz
  (CIFAR-10, 50,000 train + 10,000 test images; sha256 ...)``) and the older one with a path
  (``npz file /some/dir/cifar10.npz``) that earlier records keep."""
  import re

  parts = dataset.split(" | corrupted")[0].split(" | ")
  head = parts[0].lower()
  name = next((label for key, label in (("cifar", "CIFAR-10"), ("mnist", "MNIST"), ("imagenet", "ImageNet"))
               if key in head), parts[0])
  subset = [p for p in parts if p.startswith("first ") and p.endswith(" train")]
  held = re.search(r", ([\d,]+) train \+ [\d,]+ test images; sha256 [0-9a-f:]+\)$", parts[0])
  n_held = int(held.group(1).replace(",", "")) if held else None
  full = {"CIFAR-10": 50_000, "MNIST": 60_000}.get(name)
  size = ("embedded sample" if "sample" in head else
          f"first {int(subset[0].split()[1]):,} training images" if subset else
          f"{n_held:,} training images" if n_held is not None and n_held != full else "full")
  return f"{name} {size}" + (", JPEG-decoded" if "jpeg" in head else "")


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


def memorization(sweep_dir) -> list[pathlib.Path]:
  """Memorization dynamics (beyond the paper): per model, fraction of clean and corrupted
  training examples fitted per epoch, test accuracy, when examples are learned for good,
  and forgetting events (``memorization-<model>.png``), and a table (``memorization.md``)."""
  import numpy as np

  runs = _load(sweep_dir)
  stats = {name: memorization_stats(r) for name, r in runs.items()}
  stats = {name: st for name, st in stats.items() if st is not None}
  plt = _plt()
  outs, rows = [], []
  models = sorted({runs[n]["meta"]["model"] for n in stats})
  styles = ["o", "s", "^", "D", "v", "P"]
  for model in models:
    names = sorted((n for n in stats if runs[n]["meta"]["model"] == model), key=lambda n: runs[n]["meta"]["p"])
    data = _data_label(runs[names[0]]["summary"]["dataset"])
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, name in enumerate(names):
      st, p = stats[name], runs[name]["meta"]["p"]
      label = "random labels" if runs[name]["config"]["corruption"]["kind"] == "random_labels" else f"p = {p:g}"
      color, marker = colors[j % len(colors)], styles[j % len(styles)]
      every = max(1, len(st["epochs"]) // 12)
      if not np.isnan(st["fitted"]["clean"]).all():
        axes[0].plot(st["epochs"], st["fitted"]["clean"], "-", color=color, marker=marker, markevery=every,
                     label=f"{label}: clean")
      axes[0].plot(st["epochs"], st["fitted"]["corrupted"], "--", color=color, marker=marker, markevery=every,
                   mfc="none", label=f"{label}: corrupted")
      axes[1].plot(st["test_epochs"], st["test_accuracy"], "-", color=color, marker=marker, markevery=every,
                   label=label)
      noisy = st["corrupted"]
      axes[3].bar([j - 0.2, j + 0.2], [st["forgetting"][~noisy].mean() if (~noisy).any() else 0,
                                       st["forgetting"][noisy].mean() if noisy.any() else 0],
                  width=0.4, color=[color, "white"], edgecolor=color, hatch=[None, "//"])
    # one run's learned-for-good epochs, clean vs corrupted (the level nearest 0.4: both groups large)
    shown = min(names, key=lambda n: abs(runs[n]["meta"]["p"] - 0.4))
    st = stats[shown]
    good, noisy = st["learned_for_good_epoch"], st["corrupted"]
    bins = np.arange(0, st["epochs"][-1] + 2) - 0.5
    for group, label, style in ((~noisy, "clean", dict(alpha=0.5)), (noisy, "corrupted", dict(histtype="step",
                                                                                               hatch="//"))):
      values = good[group & ~np.isnan(good)]
      never = int((group & np.isnan(good)).sum())
      if values.size:
        axes[2].hist(values, bins=bins, label=f"{label} ({never:,} not fitted at the end)", **style)
    axes[2].set(xlabel="epoch learned for good", ylabel="training examples",
                title=f"learned for good, p = {runs[shown]['meta']['p']:g}")
    axes[2].legend(fontsize=7)
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
    outs.append(_atomic_png(fig, pathlib.Path(sweep_dir) / f"memorization-{model}.png"))
    plt.close(fig)
    for name in names:
      st, s, noisy = stats[name], runs[name]["summary"], stats[name]["corrupted"]
      good = st["learned_for_good_epoch"]
      med = lambda m: "—" if not m.any() or np.isnan(good[m]).all() else f"{np.nanmedian(good[m]):.0f}"
      epoch = lambda e: "—" if e is None else f"{e:.0f}"
      rows.append(f"| {model} | {'random' if runs[name]['meta']['p'] >= 1 else runs[name]['meta']['p']} | "
                  f"{_pct(noisy.mean())} | {_pct(st['fitted']['clean'][-1]) if (~noisy).any() else '—'} | "
                  f"{_pct(st['fitted']['corrupted'][-1])} | {epoch(st['half_clean'])} | "
                  f"{epoch(st['half_corrupted'])} | {med(~noisy)} | {med(noisy)} | "
                  f"{st['forgetting'][~noisy].mean() if (~noisy).any() else float('nan'):.2f} | "
                  f"{st['forgetting'][noisy].mean():.2f} | {_pct(st['clean_prediction_rate'])} | "
                  f"{_pct(s['test_accuracy'])} | {s['epoch']:.0f} |")
  header = ("| model | p | corrupted % | clean fitted % | corrupted fitted % | epoch 50% clean | "
            "epoch 50% corrupted | median learned-for-good epoch, clean | ... corrupted | forgetting events, clean | "
            "... corrupted | clean label predicted before memorized % | test acc % | epochs |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  outs.append(_atomic_text(pathlib.Path(sweep_dir) / "memorization.md",
                           "# Memorization dynamics\n\nFitted: classified as the training label at the last "
                           "evaluation. Learned for good: fitted from that evaluation to the end. Forgetting events: "
                           "fitted -> not fitted between consecutive evaluations. Clean label predicted before "
                           "memorized: over corrupted examples, the share of evaluations before each was learned for "
                           "good at which the network predicted its clean label.\n\n" + header + "\n"
                           + "\n".join(rows) + f"\n\n{_provenance(runs)}\n"))
  return outs


def _environment_line(env: dict) -> str:
  return f"Devices: {_devices(env)}."


def _minnorm_mnist(saved: dict) -> list[str]:
  lines = ["| features | bandwidth | test error | paper | train error (first 2,000) | norm | relative residual | "
           "solver | time | peak RSS |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
  for r in saved["results"]:
    ref = paper.MINNORM_MNIST.get(r["features"])
    steps = f"{r['iterations']} iterations" if r["solver"] == "cg" else f"{r['iterations']} refinement steps"
    lines.append(f"| {r['features']} | {r['bandwidth']:g} | {_pct(r['test_error'])}% | "
                 f"{'—' if ref is None else f'{ref:.1f}%'} | {_pct(r['train_error'])}% | {r['norm']:.1f} | "
                 f"{r['residual']:.1e} | {r['solver']} ({steps}) | {r['seconds']:.1f} s | {r['peak_rss_gb']:.1f} GB |")
  return lines


def _minnorm_cifar(saved: dict) -> list[str]:
  lines = ["| method | test error | paper | norm | relative residual | time | peak RSS |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  for r in saved["results"]:
    key = ("gaussian" if r["method"].startswith("Gaussian") else
           "random_conv" if r["method"].endswith("ridge 0 x mean diag") else "random_conv_ridge")
    time = (f"{r['seconds']:.0f} s" if "gram_seconds" not in r else
            f"{r['seconds']:.0f} s (Gram {r['gram_seconds']:.0f} s)")
    lines.append(f"| {r['method']} | {_pct(r['test_error'])}% | {paper.MINNORM_CIFAR10[key]:.0f}%* | "
                 f"{r['norm']:.1f} | {r['residual']:.1e} | {time} | {r['peak_rss_gb']:.1f} GB |")
  return lines + ["", "\\* the paper's figure, for full CIFAR-10 (its random features: 32,000 filters)."]


def _theorem1(saved: dict) -> list[str]:
  lines = ["| n | weights | 2n + d | max residual | train acc | test acc | min gap / range | seconds |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for r in saved["theorem1"]:
    lines.append(f"| {r['n']:,} | {r['params']:,} | {r['params_scalar_2n_plus_d']:,} | {r['max_residual']:.1e} | "
                 f"{_pct(r['train_accuracy'])}% | {_pct(r['test_accuracy'])}% | {r['min_gap'] / r['range']:.1e} | "
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


def _mean_sd(xs) -> str:
  """``95.2 ± 1.3``: mean and sample standard deviation of repeated measurements."""
  import statistics

  return f"{statistics.mean(xs):,.1f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:,.1f}"


def _train_throughput(saved: dict) -> list[str]:
  lines = ["| model | params | JAX img/s | JAX im2col | torch img/s | torch CL img/s | JAX / best torch |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  for r in saved["rows"]:
    t = r["images_per_s"]
    cell = lambda key: _mean_sd(t[key]) if key in t else "—"
    ratio = (f"**{r['ratio']:.2f}** ({min(r['ratio_per_repeat']):.2f}-{max(r['ratio_per_repeat']):.2f})"
             if "ratio" in r else "—")
    lines.append(f"| {r['model']} | {r['params']:,} | {cell('jax')} | {cell('jax_im2col')} | {cell('torch')} | "
                 f"{cell('torch_channels_last')} | {ratio} |")
  cfg = saved["config"]
  torch = (f"PyTorch {saved['torch']} ({saved['torch_threads']} threads)" if saved.get("torch")
           else "PyTorch not installed")
  return lines + ["", f"Batch {cfg['batch_size']}, images/s as mean ± sd over {cfg['repeats']} repetitions "
                      f"(JAX and PyTorch alternating); the ratio is the best JAX variant's mean over the best "
                      f"PyTorch variant's, with its range over the repetitions. {torch}; CPU: "
                      f"{saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."]


def _vmapped_sweep(saved: dict) -> list[str]:
  import statistics

  walls, runs, steps = saved["wall_seconds"], saved["runs"], saved["steps"]
  lines = ["| | wall time | run-steps/s |", "|---|---:|---:|"]
  for key, label in (("sequential", f"{runs} sequential runs"), ("vmapped", "one vmapped program")):
    lines.append(f"| {label} | {_mean_sd(walls[key])} s | {runs * steps / statistics.mean(walls[key]):.1f} |")
  per_rep = [a / b for a, b in zip(walls["sequential"], walls["vmapped"])]
  speedup = statistics.mean(walls["sequential"]) / statistics.mean(walls["vmapped"])
  cfg = saved["config"]
  return lines + [f"| speedup | **{speedup:.2f}x** ({min(per_rep):.2f}-{max(per_rep):.2f}) | |", "",
                  f"{cfg['model']}, {runs} corruption levels, {steps} steps per run, wall time (setup, compilation "
                  f"and evaluation included) as mean ± sd over {cfg['repeats']} repetitions; largest difference of "
                  f"the two ways' final accuracies: {saved['max_accuracy_difference']:.4f}. CPU: "
                  f"{saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."]


def _minnorm_scaling(saved: dict) -> list[str]:
  lines = ["| n | solver | seconds | floor | / floor | peak RSS | relative residual | iterations | test error |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
  for r in saved["rows"]:
    floor = r.get("floor_seconds")
    floor_cells = f"{floor:.1f} | {r['seconds'] / floor:.2f}x" if floor else "— | —"
    lines.append(f"| {r['n']:,} | {r['solver']} | {r['seconds']:.1f} | {floor_cells} | {r['peak_rss_gb']:.1f} GB | "
                 f"{r['residual']:.1e} | {r['iterations']} | {100 * r['test_error']:.2f}% |")
  cfg = saved["config"]
  rates = sorted({round(r["gemm_gflops"]) for r in saved["rows"] if r.get("gemm_gflops")})
  rate = (f"; measured GEMM rate {rates[0]}" + (f"-{rates[-1]}" if len(rates) > 1 else "") + " GFLOP/s"
          if rates else "")
  return lines + ["", f"Gaussian kernel (bandwidth {cfg['bandwidth']:g}) on raw pixels in [0, 1], Gram matrix in "
                      f"{cfg['dtype']}, {cfg['backend']} backend, each row in a fresh process; floor = Gram time + "
                      f"n^3/3 at the float32 GEMM rate{rate}; iterations: the Cholesky's float64 refinement steps, CG's "
                      f"iterations; test error on {saved['n_test']:,} test images. CPU: "
                      f"{saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."]


_CONV_PROFILE_LABELS = {"jax": "JAX, XLA's convolution", "jax_im2col": "JAX, im2col",
                        "torch_channels_last": "PyTorch, channels_last"}


def _conv_profile(saved: dict) -> list[str]:
  import statistics

  gflop = saved["gflop"]
  lines = ["| | forward | input gradient | weight gradient |", "|---|---:|---:|---:|"]
  for name, passes in saved["ms"].items():
    cells = [f"{_mean_sd(passes[p])} ms ({gflop / statistics.mean(passes[p]) * 1e3:.0f} GFLOP/s)"
             for p in ("forward", "input_grad", "weight_grad")]
    lines.append(f"| {_CONV_PROFILE_LABELS.get(name, name)} | " + " | ".join(cells) + " |")
  cfg = saved["config"]
  flags = f"`XLA_FLAGS={saved['xla_flags']}`" if saved.get("xla_flags") else "XLA's default flags"
  torch = f"PyTorch {saved['torch']}" if saved.get("torch") else "PyTorch not installed"
  k = cfg.get("kernel", 3)  # records from before --kernel existed are 3x3
  return lines + ["", f"One {k}x{k} convolution, batch {cfg['batch']}, {cfg['size']}x{cfg['size']}, {cfg['cin']} -> "
                      f"{cfg['cout']} channels ({gflop:.2f} GFLOP per pass), ms per call as mean ± sd over "
                      f"{cfg['repeats']} repetitions of 10 calls; {flags}; {torch}. CPU: "
                      f"{saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."]


def _track_examples(saved: dict) -> list[str]:
  import statistics

  walls, ratios, cfg = saved["wall_seconds"], saved["ratios"], saved["config"]
  lines = ["| per-example records | wall time (median) | min | max |", "|---|---:|---:|---:|"]
  for key, label in (("off", "off"), ("on", "on (`track_examples`)")):
    w = walls[key]
    lines.append(f"| {label} | {statistics.median(w):.1f} s | {min(w):.1f} s | {max(w):.1f} s |")
  runs = f"{cfg['vmapped']} vmapped runs" if cfg["vmapped"] > 1 else "one run"
  return lines + [f"| ratio on / off | **{statistics.median(ratios):.3f}x** (per repetition: "
                  f"{', '.join(f'{r:.3f}' for r in ratios)}) | | |", "",
                  f"{cfg['model']}, {runs}, {cfg['epochs']:g} epochs of {saved['n_train']:,} training images, evaluated "
                  f"on the {saved['n_train']:,} training and {saved['n_test']:,} test images every epoch, "
                  f"{cfg['reps']} repetitions with the two arms alternating (compilation, evaluations and writing "
                  f"included). A run's records take {saved['bytes_per_evaluation'] / 1e3:.0f} kB per evaluation (its "
                  f"`examples.npz` over its {saved['evaluations']} evaluations). CPU: "
                  f"{saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."]


def _accelerator(saved: dict) -> list[str]:
  peak = saved["peak_tflops"]
  lines = [f"Device: {saved['device_kind']}; peak {f'{peak:g} TFLOP/s' if peak else 'not known'} "
           f"({saved['config']['compute_dtype']}).", "", "| model | batch | images/s | GFLOP/step | MFU |",
           "|---|---:|---:|---:|---:|"]
  for r in saved.get("train_step", []):
    gflop = f"{r['flops_per_step'] / 1e9:,.1f}" if r["flops_per_step"] else "—"
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "—"
    lines.append(f"| {r['model']} | {r['batch']:,} | {r['images_per_s']:,.0f} | {gflop} | {mfu} |")
  if "vmapped_sweep" in saved:
    v = saved["vmapped_sweep"]
    seq, vm = v["wall_seconds"]["sequential"][0], v["wall_seconds"]["vmapped"][0]
    lines += ["", f"Vmapped sweep: {v['runs']} label-corruption runs of {v['model']}, {v['steps']} steps each: "
              f"sequential {seq:.1f} s, one vmapped program {vm:.1f} s (**{seq / vm:.2f}x**); largest final "
              f"accuracy difference {v['max_accuracy_difference']:.4f}."]
  if "minnorm_mnist" in saved:
    m = saved["minnorm_mnist"]
    mem = f"{m['peak_device_gb']:.1f} GB peak device memory" if m["peak_device_gb"] is not None else "peak memory —"
    lines += ["", f"Min-norm on MNIST (raw pixels, Gaussian kernel, backend jax): n = {m['n_train']:,}, "
              f"{m['seconds']:.1f} s, {mem}, residual {m['residual']:.1e}, test error {100 * m['test_error']:.2f}%."]
  if "headline" in saved:
    h = saved["headline"]
    fit = (f"fitted at epoch {h['time_to_fit']['epoch']:.0f} ({h['time_to_fit']['seconds'] / 60:.1f} min of training)"
           if h["time_to_fit"] else f"not fitted within its {h['epoch_budget']:g}-epoch share")
    lines += ["", f"{h['model']} on random labels: {fit}; {h['epochs']:.1f} epochs, train accuracy "
              f"{100 * h['train_accuracy']:.2f}%, test accuracy {100 * h['test_accuracy']:.2f}%, "
              f"{h['wall_seconds'] / 60:.1f} min wall."]
  if "total_seconds" in saved:
    lines += ["", f"Whole run: {saved['total_seconds'] / 60:.1f} min."]
  return lines


_SCRIPT_TABLES = {"minnorm_mnist": ("Section 5: min-norm interpolation on MNIST", _minnorm_mnist),
                  "minnorm_cifar": ("Section 5: min-norm interpolation on CIFAR-10", _minnorm_cifar),
                  "theorem1": ("Theorem 1 and Rademacher complexity", _theorem1),
                  "train_throughput": ("Train-step throughput, JAX and PyTorch", _train_throughput),
                  "vmapped_sweep": ("Many runs in one program: the vmapped label-corruption sweep", _vmapped_sweep),
                  "minnorm_scaling": ("Min-norm interpolation against n: time, memory and the floor",
                                      _minnorm_scaling),
                  "conv_profile": ("One convolution's three passes, JAX and PyTorch", _conv_profile),
                  "track_examples": ("What per-example records cost", _track_examples),
                  "accelerator": ("One accelerator: train step, vmapped sweep, min-norm and the headline run",
                                  _accelerator)}


def script_results(results_dir) -> pathlib.Path:
  """The tables of a min-norm, Theorem 1 or benchmark ``results.json`` (``<script>.md`` beside it):
  test error beside the paper's, norm, residual, time and memory; Theorem 1's sizes,
  residuals and accuracies and the Rademacher estimates; or a benchmark's timings with
  their spread."""
  results_dir = pathlib.Path(results_dir)
  saved = records.read_json(results_dir / records.RESULTS)
  script = saved.get("script") if isinstance(saved, dict) else None
  if script not in _SCRIPT_TABLES:
    raise records.RecordError(f"{results_dir / records.RESULTS} names no script of {records.RESULT_SCRIPTS} "
                              "(written by an older release?).")
  title, table = _SCRIPT_TABLES[script]
  try:
    lines = table(saved)
  except (KeyError, TypeError) as e:
    raise records.RecordError(f"{results_dir / records.RESULTS} lacks an entry its table needs: {e}.") from None
  n = f"; {saved['n_train']:,} train" if "n_train" in saved else ""
  text = (f"# {title}\n\n" + "\n".join(lines) + f"\n\nData: {saved['dataset']}{n}. "
          f"{_environment_line(saved.get('environment', {}))}\n")
  return _atomic_text(results_dir / f"{script}.md", text)


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
        _atomic_text(path, path.read_text() + note)
  return out


# Every paper artifact a sweep can reproduce, and what its report makes (declared once: a new
# artifact is an entry here, its report functions above and its configs/<artifact>.py).
ARTIFACTS = {"table1": lambda d: [table1(d)], "appendix": lambda d: [appendix(d)],
             "figure1a": lambda d: [figure1a(d), figure1a_table(d)], "figure1bc": figure1bc,
             "figure2b": lambda d: [figure2b(d), figure2b_table(d)],
             "table2": lambda d: [table2(d), figure2a(d)], "memorization": memorization}


def _is_run_dir(path: pathlib.Path) -> bool:
  return (path / records.CONFIG).is_file() and (path / records.METRICS).is_file()


def _describe_run(saved: dict, summary: dict | None) -> tuple[str, str]:
  """``(model, "data, corruption")`` of a run, from its records, for titles."""
  corruption = saved.get("corruption") or {}
  kind = corruption.get("kind", "?")
  what = KIND_LABELS.get(kind, kind.replace("_", " ")) + (f" p = {corruption['p']:g}" if corruption.get("p") is not None
                                                           else "") + \
      (f" ({corruption['variant']})" if corruption.get("variant") else "")
  dataset = (summary or {}).get("dataset") or saved.get("dataset", "")
  return saved.get("config", {}).get("model", "?"), f"{_data_label(dataset)}, {what}"


def metrics_warnings(run_dir, rows: list[dict], summary: dict | None) -> list[str]:
  """What is wrong with a run's ``metrics.jsonl`` against its summary: empty, cut mid-line, or
  ending before the step the summary names (the curves would be drawn from partial data)."""
  path = pathlib.Path(run_dir) / records.METRICS
  text = path.read_text() if path.exists() else ""
  out = []
  if not rows:
    out.append(f"{path} holds no metrics row: there are no curves to draw.")
  if text and not text.endswith("\n"):
    out.append(f"{path} ends in a cut line (a write was interrupted); it was left out.")
  if summary is not None and rows and rows[-1]["step"] < summary["step"]:
    out.append(f"{path} ends at step {rows[-1]['step']} but {records.SUMMARY} names step {summary['step']}: the "
               "curves show part of the run.")
  return out


def single_run(run_dir) -> list[pathlib.Path]:
  """A single run directory's training curves (``curves.png``: train and test accuracy and
  loss against steps, the fit point marked) and a markdown summary (``summary.md``)."""
  run_dir = pathlib.Path(run_dir)
  saved = records.read_json(run_dir / records.CONFIG)
  if not isinstance(saved, dict) or "config" not in saved:
    raise records.RecordError(f"{run_dir / records.CONFIG} is not a run's config record.")
  rows = records.read_jsonl(run_dir / records.METRICS, drop_torn_tail=True)
  summary = records.read_json(run_dir / records.SUMMARY) if (run_dir / records.SUMMARY).exists() else None
  for warning in metrics_warnings(run_dir, rows, summary):
    print(f"warning: {warning}", file=sys.stderr)
  model, what = _describe_run(saved, summary)
  evaluated = [r for r in rows if "train_accuracy" in r or "train_top1" in r]
  top = "accuracy" if not evaluated or "train_accuracy" in evaluated[0] else "top1"
  plt = _plt()
  fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
  for split, style in (("train", dict(ls="-", marker="o")), ("test", dict(ls="--", marker="s"))):
    points = [r for r in evaluated if f"{split}_{top}" in r]
    every = max(1, len(points) // 15)
    acc_ax.plot([r["step"] for r in points], [r[f"{split}_{top}"] for r in points], markevery=every, label=split,
                **style)
    losses = [r for r in rows if f"{split}_loss" in r]
    loss_ax.plot([r["step"] for r in losses], [r[f"{split}_loss"] for r in losses], markevery=every, label=split,
                 **style)
  batches = [r for r in rows if "batch_loss" in r]
  if batches:
    loss_ax.plot([r["step"] for r in batches], [r["batch_loss"] for r in batches], ":", color="gray",
                 label="training batches")
  fit = (summary or {}).get("time_to_fit")
  if fit:
    for ax in (acc_ax, loss_ax):
      ax.axvline(fit["step"], color="black", lw=0.8, ls="-.", label=f"fitted (epoch {fit['epoch']:.1f})")
  acc_ax.set(xlabel="steps", ylabel=top.replace("top1", "top-1 accuracy"), ylim=(0, 1.02), title="accuracy")
  loss_ax.set(xlabel="steps", ylabel="cross-entropy", title="loss")
  acc_ax.legend()
  loss_ax.legend()
  fig.suptitle(f"{model}: {what}")
  fig.tight_layout()
  outs = [_atomic_png(fig, run_dir / "curves.png")]
  plt.close(fig)
  lines = [f"# {run_dir.name}", "", f"{model}, {what}.", "", f"Data: {(summary or saved).get('dataset', '—')}.", ""]
  if summary:
    fit_text = f"step {fit['step']} (epoch {fit['epoch']:.1f})" if fit else "not reached"
    lines += ["| measure | value |", "|---|---|", f"| steps | {summary['step']} (epoch {summary['epoch']:.1f}) |"]
    lines += [f"| {k.replace('_', ' ')} | {_pct(summary[k])} % |" for k in sorted(summary)
              if k.endswith(("accuracy", "top1", "top5")) and isinstance(summary[k], (int, float))]
    lines += [f"| time to fit ({summary['fit_metric']} >= {summary['fit_threshold']:g}) | {fit_text} |",
              f"| training time | {_duration(summary['train_seconds'])} |",
              f"| parameters | {summary['num_params']:,} |"]
  else:
    last = rows[-1]["step"] if rows else 0
    lines.append(f"Not finished: metrics up to step {last}.")
  env = saved.get("environment", {})
  if env:
    lines += ["", _environment_line(env)]
  segs = segments.read_segments(run_dir)
  if segs:
    lines += ["", f"Trained by {len(segs)} process segment{'s' * (len(segs) > 1)} (segments.json):", "",
              *(f"- {line}" for line in segments.describe(segs).splitlines())]
  outs.append(_atomic_text(run_dir / "summary.md", "\n".join(lines) + "\n"))
  return outs


def build_all(root, *, partial: bool = False) -> list[pathlib.Path]:
  """Rebuilds the reports of every sweep directory below ``root`` (``root`` included), the
  curves and summary of every run directory that is not part of a sweep, and the tables of
  every min-norm, Theorem 1 or benchmark ``results.json``. ``partial``: see :func:`build`."""
  root = pathlib.Path(root)
  sweeps = sorted({p.parent for p in root.rglob(records.SWEEP)})
  out = []
  for sweep_dir in sweeps:
    out += build(sweep_dir, partial=partial)
  for cfg in sorted(root.rglob(records.CONFIG)):
    run_dir = cfg.parent
    if _is_run_dir(run_dir) and not (run_dir.parent / records.SWEEP).exists():
      out += single_run(run_dir)
  for results in sorted(root.rglob(records.RESULTS)):
    out.append(script_results(results.parent))
  return out


def main(argv=None) -> int:
  """``python -m rethink_jax.report PATH [PATH ...]``; returns the exit status."""
  import argparse

  parser = argparse.ArgumentParser(
      prog="python -m rethink_jax.report",
      description="Rebuild tables and figures from run records: every sweep directory (sweep.json) below each\n"
                  "PATH gets its paper artifact (tables as .md, figures as .png); every run directory outside a\n"
                  "sweep gets curves.png and summary.md; every min-norm, Theorem 1 or benchmark results.json its tables.",
      epilog="examples: python -m rethink_jax.report runs/    (your runs)\n"
             "          python -m rethink_jax.report results/ (the records behind docs/results.md)",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("paths", nargs="+", metavar="PATH", help="a run directory, a sweep directory or a folder of them")
  parser.add_argument("--partial", action="store_true",
                      help="report sweeps with missing or unfinished runs (each table names them) instead of failing")
  args = parser.parse_args(argv)
  written = []
  try:
    for path in map(pathlib.Path, args.paths):
      if not path.exists():
        print(f"error: {path} does not exist.", file=sys.stderr)
        return 2
      found = build_all(path, partial=args.partial) if path.is_dir() else []
      if not found:
        print(f"error: {path} holds no run record (a sweep's {records.SWEEP}, a run's {records.CONFIG} with "
              f"{records.METRICS}, or a script's {records.RESULTS}).", file=sys.stderr)
        return 2
      written += found
  except IncompleteSweepError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  except records.RecordError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for path in written:
    print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
