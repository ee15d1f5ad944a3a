"""What the report's modules share: number and duration formats, data labels, the lines that
say where a table's numbers come from (data, devices, training time), atomic writes of
tables and figures, and matplotlib (headless) with its line styles."""

from __future__ import annotations

import pathlib

from rethink_jax import corruptions, monitoring, records

KIND_LABELS = {kind: spec.label for kind, spec in corruptions.REGISTRY.items()}  # declared with each corruption


def duration(seconds: float) -> str:
  """``42.0 s`` below two minutes, ``3.5 min`` from there."""
  return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def pct(x) -> str:
  """A fraction as a percentage with two decimals (``45.12``); ``—`` for None. Short of 100%
  never reads as 100.00: 0.99998 gives ``99.998`` (one of 50,000 examples wrong is not a fit)."""
  return "—" if x is None else monitoring.fraction(x, digits=2, scale=100)


def mean_sd(xs) -> str:
  """``95.2 ± 1.3``: mean and sample standard deviation of repeated measurements."""
  import statistics

  return f"{statistics.mean(xs):,.1f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:,.1f}"


def describe_devices(env: dict) -> str:
  """``1 x cpu (cpu), jax 0.10.2``: the devices and jax version of a record's environment."""
  return (f"{env.get('device_count', '?')} x {'/'.join(env.get('device_kinds', []))} ({env.get('backend', '?')}), "
          f"jax {env.get('versions', {}).get('jax', '?')}")


def environment_line(env: dict) -> str:
  """``Devices: 1 x cpu (cpu), jax 0.10.2.``: a record's environment, for the foot of a table."""
  return f"Devices: {describe_devices(env)}."


def provenance(runs: dict) -> str:
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
      saved = records.read_json(cfg)
      devices.add(describe_devices(saved["environment"]))
      if not runs[name]["summary"] and runs[name].get("metrics"):  # unfinished: what it trained on, and for how long
        datasets.add(saved.get("dataset", "").split(" | corrupted")[0])
        seconds += runs[name]["metrics"][-1].get("train_seconds", 0.0) / saved.get("vmapped_runs", 1)
  return (f"Data: {'; '.join(sorted(datasets - {''})) or '—'}. Devices: {'; '.join(sorted(devices)) or '—'}. "
          f"Training time, all runs: {seconds / 60:.1f} min.")


def data_label(dataset: str) -> str:
  """A run's data for titles, from its provenance: the dataset, its size (the embedded sample,
  a first-N subset, full, or the number of training images a file held when the provenance
  gives it and it is not the full set) and "JPEG-decoded" where the provenance says so.

  Reads both provenance forms: the portable one of :mod:`rethink_jax.data` (``cifar10.npz
  (CIFAR-10, 50,000 train + 10,000 test images; sha256 ...)``) and the older one with a path
  (``npz file /some/dir/cifar10.npz``) that earlier records keep."""
  import re

  parts = dataset.split(" | corrupted")[0].split(" | ")
  head = parts[0].lower()
  name = next((label for key, label in (("cifar100", "CIFAR-100"), ("cifar-100", "CIFAR-100"), ("cifar", "CIFAR-10"),
                                        ("mnist", "MNIST"), ("imagenet", "ImageNet")) if key in head), parts[0])
  subset = [p for p in parts if p.startswith("first ") and p.endswith(" train")]
  held = re.search(r", ([\d,]+) train \+ [\d,]+ test images; sha256 [0-9a-f:]+\)$", parts[0])
  n_held = int(held.group(1).replace(",", "")) if held else None
  full = {"CIFAR-10": 50_000, "CIFAR-100": 50_000, "MNIST": 60_000}.get(name)
  size = ("embedded sample" if "sample" in head else
          f"first {int(subset[0].split()[1]):,} training images" if subset else
          f"{n_held:,} training images" if n_held is not None and n_held != full else "full")
  return f"{name} {size}" + (", JPEG-decoded" if "jpeg" in head else "")


def atomic_text(path: pathlib.Path, text: str) -> pathlib.Path:
  """Writes ``text`` to a temporary file renamed to ``path``; returns ``path``."""
  records.atomic_write_text(path, text)
  return path


def atomic_png(fig, path: pathlib.Path) -> pathlib.Path:
  """Saves ``fig`` as a PNG (120 dpi) to a temporary file renamed to ``path``; returns ``path``."""
  records.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"), binary=True)
  return path


def pyplot():
  """``matplotlib.pyplot`` (imported on first use), on the headless Agg backend unless a
  backend was chosen before: ``MPLBACKEND`` set (as Jupyter's kernel does, for inline plots)
  or pyplot already imported. A report built from a notebook leaves its plots inline."""
  import os
  import sys

  import matplotlib

  if not os.environ.get("MPLBACKEND") and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


LINE_STYLES = [dict(ls="-", marker="o"), dict(ls="--", marker="s"), dict(ls="-.", marker="^"), dict(ls=":", marker="D"),
               dict(ls="-", marker="v"), dict(ls="--", marker="P")]


def line_style(i: int, n_points: int) -> dict:
  """Line style and marker of curve ``i``: overlapping curves stay distinguishable."""
  return {**LINE_STYLES[i % len(LINE_STYLES)], "markevery": max(1, n_points // 12), "markersize": 4}
