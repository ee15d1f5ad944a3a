"""Tables and figures of the paper rebuilt from run records, never by hand.

``python -m rethink_jax.report RUNS_DIR`` finds every sweep directory below ``RUNS_DIR``
(a folder with ``sweep.json``) and writes, next to it, what that sweep reproduces:

* Table 1 (``table1.md``) and the Appendix table (``appendix.md``), with the paper's
  numbers in a column beside ours;
* Figure 1a (``figure1a.png``): training loss against steps for the five randomization tests;
* Figures 1b and 1c (``figure1b.png``, ``figure1c.png``): time to fit relative to true
  labels, and test error at the end, against the label corruption level;
* Figure 2b (``figure2b.png``): test accuracy over training, the cumulative best shaded;
* Table 2 (``table2.md``) and Figure 2a (``figure2a.png``) from ImageNet runs.

Each output is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from rethink_jax import paper, records

__all__ = ["table1", "appendix", "figure1a", "figure1bc", "figure2b", "table2", "figure2a", "build", "build_all"]

KIND_LABELS = {"true_labels": "true labels", "random_labels": "random labels", "shuffled_pixels": "shuffled pixels",
               "random_pixels": "random pixels", "gaussian": "Gaussian"}


def _pct(x) -> str:
  return "—" if x is None else f"{100 * x:.2f}"


def _provenance(runs: dict) -> str:
  """Data, devices and total training time of a sweep, from its run records."""
  datasets, devices, seconds = set(), set(), 0.0
  for run in runs.values():
    if run["summary"]:
      datasets.add(run["summary"]["dataset"].split(" | corrupted")[0])
      seconds += run["summary"]["train_seconds"]
  for name in runs:
    cfg = pathlib.Path(runs[name]["dir"]) / records.CONFIG
    if cfg.exists():
      env = records.read_json(cfg)["environment"]
      devices.add(f"{env['device_count']} x {'/'.join(env['device_kinds'])} ({env['backend']}), "
                  f"jax {env['versions'].get('jax', '?')}")
  return (f"Data: {'; '.join(sorted(datasets)) or '—'}. Devices: {'; '.join(sorted(devices)) or '—'}. "
          f"Training time, all runs: {seconds / 60:.1f} min.")


def _load(sweep_dir) -> dict:
  return records.read_sweep(sweep_dir)[1]


def _atomic_text(path: pathlib.Path, text: str) -> pathlib.Path:
  records.atomic_write_text(path, text)
  return path


def _atomic_png(fig, path: pathlib.Path) -> pathlib.Path:
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
  os.close(fd)
  try:
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)
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
  for kind in paper.FIGURE1_KINDS:
    run = next((r for r in runs.values() if r["meta"].get("kind") == kind), None)
    if run is None:
      continue
    rows = [r for r in run["metrics"] if "batch_loss" in r]
    ax.plot([r["step"] for r in rows], [r["batch_loss"] for r in rows], label=KIND_LABELS[kind])
  ax.set_xlabel("steps")
  ax.set_ylabel("average training loss")
  ax.set_title("Figure 1a: fitting the randomization tests")
  ax.legend()
  out = _atomic_png(fig, pathlib.Path(sweep_dir) / "figure1a.png")
  plt.close(fig)
  return out


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
      by_seed.setdefault(r["meta"].get("seed", 0), {})[r["meta"]["p"]] = r["summary"]
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
    ax.set_title(title)
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
  for run in runs.values():
    rows = [r for r in run["metrics"] if key in r]
    if not rows:
      continue
    steps = np.array([r["step"] for r in rows])
    acc = np.array([r[key] for r in rows])
    line, = ax.plot(steps, acc, label=label(run["meta"]))
    ax.fill_between(steps, acc, np.maximum.accumulate(acc), color=line.get_color(), alpha=0.25)
  ax.set_xlabel("steps")
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.legend()
  out = _atomic_png(fig, path)
  plt.close(fig)
  return out


def figure2b(sweep_dir) -> pathlib.Path:
  """Figure 2b: test accuracy over training; shaded up to the cumulative best (early stopping)."""
  return _early_stopping_plot(_load(sweep_dir), "test_accuracy", lambda m: m["model"],
                              "Figure 2b: implicit regularization (shaded: cumulative best)", "test accuracy",
                              pathlib.Path(sweep_dir) / "figure2b.png")


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


def build(sweep_dir) -> list[pathlib.Path]:
  """Everything a sweep reproduces: the paper artifact its ``sweep.json`` names."""
  artifact, runs = records.read_sweep(sweep_dir)
  if not runs:
    return []
  builders = {"table1": lambda d: [table1(d)], "appendix": lambda d: [appendix(d)],
              "figure1a": lambda d: [figure1a(d)], "figure1bc": figure1bc, "figure2b": lambda d: [figure2b(d)],
              "table2": lambda d: [table2(d), figure2a(d)]}
  return builders[artifact](sweep_dir)


def build_all(root) -> list[pathlib.Path]:
  """Rebuilds the reports of every sweep directory below ``root``."""
  out = []
  for spec in sorted(pathlib.Path(root).rglob(records.SWEEP)):
    out += build(spec.parent)
  return out


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: python -m rethink_jax.report RUNS_DIR")
  try:
    written = build_all(sys.argv[1])
  except records.RecordError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  for path in written:
    print(f"wrote {path}")
