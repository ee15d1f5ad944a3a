"""A single run directory outside a sweep: its training curves (``curves.png``) and a
markdown summary (``summary.md``), from its ``config.json``, ``metrics.jsonl``,
``summary.json`` and ``segments.json``."""

from __future__ import annotations

import pathlib
import sys

from rethink_jax import records, segments
from rethink_jax.report.common import (KIND_LABELS, atomic_png, atomic_text, data_label, duration, environment_line,
                                       pct, pyplot)


def is_run_dir(path: pathlib.Path) -> bool:
  """Whether ``path`` holds a run's records (``config.json`` and ``metrics.jsonl``)."""
  return (path / records.CONFIG).is_file() and (path / records.METRICS).is_file()


def _describe_run(saved: dict, summary: dict | None) -> tuple[str, str]:
  """``(model, "data, corruption")`` of a run, from its records, for titles."""
  corruption = saved.get("corruption") or {}
  kind = corruption.get("kind", "?")
  what = KIND_LABELS.get(kind, kind.replace("_", " ")) + (f" p = {corruption['p']:g}" if corruption.get("p") is not None
                                                           else "") + \
      (f" ({corruption['variant']})" if corruption.get("variant") else "")
  dataset = (summary or {}).get("dataset") or saved.get("dataset", "")
  return saved.get("config", {}).get("model", "?"), f"{data_label(dataset)}, {what}"


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
  summary = records.read_summary(run_dir / records.SUMMARY) if (run_dir / records.SUMMARY).exists() else None
  for warning in metrics_warnings(run_dir, rows, summary):
    print(f"warning: {warning}", file=sys.stderr)
  model, what = _describe_run(saved, summary)
  outs = [_curves(rows, summary, f"{model}: {what}", run_dir / "curves.png")]
  lines = [f"# {run_dir.name}", "", f"{model}, {what}.", "", f"Data: {(summary or saved).get('dataset', '—')}.", ""]
  lines += _summary_table(summary, rows)
  env = saved.get("environment", {})
  if env:
    lines += ["", environment_line(env)]
  segs = segments.read_segments(run_dir)
  if segs:
    lines += ["", f"Trained by {len(segs)} process segment{'s' * (len(segs) > 1)} (segments.json):", "",
              *(f"- {line}" for line in segments.describe(segs).splitlines())]
  outs.append(atomic_text(run_dir / "summary.md", "\n".join(lines) + "\n"))
  return outs


def _curves(rows: list[dict], summary: dict | None, title: str, path: pathlib.Path) -> pathlib.Path:
  """Train and test accuracy (or top-1) and loss against steps, the training batches' loss,
  and the fit point marked."""
  evaluated = [r for r in rows if "train_accuracy" in r or "train_top1" in r]
  top = "accuracy" if not evaluated or "train_accuracy" in evaluated[0] else "top1"
  plt = pyplot()
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
  fig.suptitle(title)
  fig.tight_layout()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def _summary_table(summary: dict | None, rows: list[dict]) -> list[str]:
  """The lines of ``summary.md`` that say how the run ended: a table of its summary, or how
  far an unfinished run got."""
  if not summary:
    return [f"Not finished: metrics up to step {rows[-1]['step'] if rows else 0}."]
  fit = summary.get("time_to_fit")
  fit_text = f"step {fit['step']} (epoch {fit['epoch']:.1f})" if fit else "not reached"
  lines = ["| measure | value |", "|---|---|", f"| steps | {summary['step']} (epoch {summary['epoch']:.1f}) |"]
  lines += [f"| {k.replace('_', ' ')} | {pct(summary[k])} % |" for k in sorted(summary)
            if k.endswith(("accuracy", "top1", "top5")) and isinstance(summary[k], (int, float))]
  return lines + [f"| time to fit ({summary['fit_metric']} >= {summary['fit_threshold']:g}) | {fit_text} |",
                  f"| training time | {duration(summary['train_seconds'])} |",
                  f"| parameters | {summary['num_params']:,} |"]
