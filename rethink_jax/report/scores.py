"""Memorization, influence and consistency scores (beyond the paper), from a
``memorization_scores`` sweep: ``K`` runs per subset ratio, each trained on its own random
subset of the training set (``subset.npz``) and recording at its end whether it predicts each
training and test example's label (``predictions.npz``, :mod:`rethink_jax.records`).

:func:`memorization_scores` estimates, with the estimators of :mod:`rethink_jax.scores`, per
subset ratio: every training example's memorization and held-out accuracy with their standard
errors, the ``k`` most influential training examples of every test example (and the test
example each training example influences most), the split-half reliability of memorization and
of held-out accuracy, and their median and mean standard error against the number of runs; over the
ratios, the C-score; with label noise, how well each score finds the corrupted examples (AUC).
It writes them to ``scores.npz`` (:data:`rethink_jax.records.SCORES`, compact, with thumbnails of the images the
figures show), then builds every figure and ``memorization_scores.md`` from that file and the
sweep's json records alone: where the run directories' predictions are gone (the copy kept in
``results/``), the same report is rebuilt from ``scores.npz``.
"""

from __future__ import annotations

import pathlib

from rethink_jax import corruptions, records
from rethink_jax.report.common import KIND_LABELS, atomic_png, atomic_text, data_label, duration, provenance, pyplot

__all__ = ["memorization_scores", "compute_scores", "read_scores", "SCORE_ARRAYS"]

SCORES = records.SCORES
INFLUENCE_K = 5        # influence pairs kept per test example (scores.influence_topk)
MAIN_RATIO = 0.7       # the ratio the figures show (the nearest one there is): Feldman & Zhang's
_PER_SIDE = 5          # examples per side of a class's row in the grids
_GRID_CLASSES = 10     # classes (rows) in the grids, the first ones
_TOP_PAIRS = 10        # influence pairs in the table and the figure

# scores.npz: name -> what it holds (R ratios, n training and m test examples, k = INFLUENCE_K,
# P points of the standard-error curves, T / U thumbnails). Scores are float16 (to 2.4e-4 in
# [-1, 1], finer than any K of runs resolves), indices int32, images and labels uint8 where
# they fit; NaN where an estimate is undefined, index -1 where no pair was found.
SCORE_ARRAYS = {
    "ratios": "[R] float64 subset ratios, ascending",
    "runs": "[R] int32 runs K of each ratio",
    "labels": "[n] the given (possibly corrupted) training labels",
    "clean_labels": "[n] the clean training labels",
    "test_labels": "[m] the test labels",
    "class_names": "[C] str",
    "memorization": "[R, n] float16 memorization score (scores.memorization)",
    "memorization_se": "[R, n] float16 its standard error",
    "heldout_accuracy": "[R, n] float16 held-out accuracy (scores.heldout_accuracy)",
    "heldout_accuracy_se": "[R, n] float16 its standard error",
    "cscore": "[n] float16 C-score over the ratios (scores.cscore)",
    "cscore_se": "[n] float16 its standard error",
    "influence_test_index": "[R, m, k] int32 the most influential training examples of each test example",
    "influence_test_score": "[R, m, k] float16 their influence, largest first",
    "influence_test_se": "[R, m, k] float16 its standard error",
    "influence_train_index": "[R, n] int32 the test example each training example influences most",
    "influence_train_score": "[R, n] float16 that influence",
    "influence_train_se": "[R, n] float16 its standard error",
    "reliability_memorization": "[R] float64 split-half reliability (Spearman) of memorization",
    "reliability_heldout": "[R] float64 split-half reliability of held-out accuracy",
    "auc_memorization": "[R] float64 AUC of memorization for the corrupted examples (NaN without noise)",
    "auc_heldout": "[R] float64 AUC of -held-out accuracy for them",
    "auc_cscore": "[] float64 AUC of -C-score for them",
    "se_curve_ratio": "[P] int32 the ratio (index into ratios) of each point of the standard-error curves",
    "se_curve_runs": "[P] int32 runs K' of the point",
    "se_curve_memorization": "[P] float64 median standard error of memorization from K' runs",
    "se_curve_heldout": "[P] float64 median standard error of held-out accuracy from K' runs",
    "se_curve_memorization_mean": "[P] float64 mean standard error of memorization from K' runs",
    "se_curve_heldout_mean": "[P] float64 mean standard error of held-out accuracy from K' runs",
    "train_thumb_index": "[T] int32 the training examples whose images the figures show",
    "train_thumbs": "[T, H, W, C] uint8 their images",
    "test_thumb_index": "[U] int32 the test examples whose images the figures show",
    "test_thumbs": "[U, H, W, C] uint8 their images",
    "images_note": "[] str why there are no images (empty when there are)",
}


def memorization_scores(sweep_dir) -> list[pathlib.Path]:
  """Memorization, influence and C-scores of a ``memorization_scores`` sweep: ``scores.npz``,
  ``memorization_scores.md`` and the figures ``memorization-grid.png``, ``cscore-grid.png``,
  ``scores-histograms.png``, ``influence-pairs.png``, ``standard-error.png`` (the three
  image figures only where the images could be loaded) and, with several subset ratios,
  ``heldout-by-ratio.png``.

  When every finished run has its ``predictions.npz``, the scores are computed
  (:func:`compute_scores`) and ``scores.npz`` rewritten; otherwise an existing ``scores.npz``
  is read; with neither, :class:`~rethink_jax.records.RecordError` names the sweep directory.
  """
  import numpy as np

  sweep_dir = pathlib.Path(sweep_dir)
  artifact, runs = records.read_sweep(sweep_dir)
  if artifact != "memorization_scores":
    raise records.RecordError(f"memorization_scores: {sweep_dir / records.SWEEP} names the artifact {artifact!r}; "
                              "memorization_scores reports only 'memorization_scores' sweeps.")
  finished = {name: run for name, run in runs.items() if run["summary"]}
  lacking = [name for name, run in finished.items() if not (pathlib.Path(run["dir"]) / records.PREDICTIONS).exists()]
  path = sweep_dir / SCORES
  if finished and not lacking:
    arrays = compute_scores(finished)
    records.atomic_write(path, lambda f: np.savez_compressed(f, **arrays), binary=True)
  elif path.exists():
    arrays = read_scores(path)
  else:
    why = f"{len(lacking)} finished runs lack {records.PREDICTIONS} (e.g. {lacking[0]})" if lacking else \
        "no run has finished"
    raise records.RecordError(f"{sweep_dir}: {why} and there is no {SCORES} to read the scores from.")
  info = _describe(finished or runs, arrays)
  outs = [path]
  if arrays["train_thumbs"].size:
    outs += [_grid(arrays, info, "memorization", sweep_dir / "memorization-grid.png"),
             _grid(arrays, info, "cscore", sweep_dir / "cscore-grid.png")]
  outs.append(_histograms(arrays, info, sweep_dir / "scores-histograms.png"))
  if arrays["train_thumbs"].size:
    outs.append(_influence_pairs(arrays, info, sweep_dir / "influence-pairs.png"))
  outs.append(_standard_error(arrays, info, sweep_dir / "standard-error.png"))
  if not info["single_ratio"]:
    outs.append(_heldout_by_ratio(arrays, info, sweep_dir / "heldout-by-ratio.png"))
  outs.append(atomic_text(sweep_dir / "memorization_scores.md", _markdown(arrays, info, runs)))
  return outs


# ----------------------------------------------------------------------------- scores

def _stack_runs(runs: dict) -> tuple[list[float], list[tuple], dict]:
  """``(ratios, per ratio (masks [K, n], correct [K, n], test_correct [K, m]), predictions of
  the first run)``: the finished runs grouped by ``meta["ratio"]``, ascending, each group in
  the order of the run names. Runs with other labels are refused: a sweep shares one draw of
  label noise."""
  import numpy as np

  groups: dict[float, list] = {}
  first = None
  for name in sorted(runs):
    run_dir = pathlib.Path(runs[name]["dir"])
    pred, mask = records.read_predictions(run_dir), records.read_subset(run_dir)
    if mask.shape != pred["train_correct"].shape:
      raise records.RecordError(f"{run_dir}: {records.SUBSET} masks {mask.shape[0]} examples but "
                                f"{records.PREDICTIONS} has {pred['train_correct'].shape[0]}.")
    if first is None:
      first = (run_dir, pred)
    for key in ("labels", "clean_labels", "test_labels"):
      if not np.array_equal(pred[key], first[1][key]):
        raise records.RecordError(f"{run_dir / records.PREDICTIONS} holds other {key} than {first[0]}: the runs "
                                  "of one sweep share their labels, so these were not trained as one sweep.")
    groups.setdefault(float(runs[name]["meta"]["ratio"]), []).append((mask, pred["train_correct"],
                                                                      pred["test_correct"]))
  ratios = sorted(groups)
  return ratios, [tuple(np.stack(a) for a in zip(*groups[r])) for r in ratios], first[1]


def _run_counts(total: int) -> list[int]:
  """The ``K'`` of the standard-error curves: 2, 4, 8, ... below ``total``, and ``total``."""
  return [2 ** e for e in range(1, total.bit_length()) if 2 ** e < total] + [total]


def _uint(x):
  """``x`` as uint8 where every value fits, else int32 (labels)."""
  import numpy as np

  x = np.asarray(x)
  return x.astype(np.uint8) if x.size and 0 <= x.min() and x.max() < 256 else x.astype(np.int32)


def compute_scores(runs: dict) -> dict:
  """Every array of ``scores.npz`` (:data:`SCORE_ARRAYS`, in the dtypes stored) from the
  finished runs of a sweep (``{name: run}`` of :func:`rethink_jax.records.read_sweep`), each
  with its ``predictions.npz`` and ``subset.npz``, and the thumbnails of the images the
  figures show (none, with ``images_note`` saying why, where the dataset cannot be loaded)."""
  import numpy as np

  from rethink_jax import scores

  ratios, stacks, pred = _stack_runs(runs)
  corrupted = pred["labels"] != pred["clean_labels"]
  noisy = bool(corrupted.any())
  f16 = lambda x: np.asarray(x, np.float16)
  nan = float("nan")
  per_ratio: dict[str, list] = {}
  curve = {"ratio": [], "runs": [], "memorization": [], "heldout": [], "memorization_mean": [], "heldout_mean": []}
  for r, (masks, correct, test_correct) in enumerate(stacks):
    k_runs = masks.shape[0]
    mem, held = scores.memorization(masks, correct), scores.heldout_accuracy(masks, correct)
    k = min(INFLUENCE_K, masks.shape[1], test_correct.shape[1])
    top = scores.influence_topk(masks, test_correct, k=k)
    values = {
        "memorization": f16(mem["score"]), "memorization_se": f16(mem["se"]),
        "heldout_accuracy": f16(held["score"]), "heldout_accuracy_se": f16(held["se"]),
        "influence_test_index": np.asarray(top["per_test"]["index"], np.int32),
        "influence_test_score": f16(top["per_test"]["score"]), "influence_test_se": f16(top["per_test"]["se"]),
        "influence_train_index": np.asarray(top["per_train"]["index"][:, 0], np.int32),
        "influence_train_score": f16(top["per_train"]["score"][:, 0]),
        "influence_train_se": f16(top["per_train"]["se"][:, 0]),
        "reliability_memorization": scores.split_half_reliability(masks, correct, scores.memorization)
        if k_runs >= 2 else nan,
        "reliability_heldout": scores.split_half_reliability(masks, correct, scores.heldout_accuracy)
        if k_runs >= 2 else nan,
        "auc_memorization": float(scores.auc(mem["score"], corrupted)) if noisy else nan,
        "auc_heldout": float(scores.auc(-held["score"], corrupted)) if noisy else nan,
    }
    for key, value in values.items():
      per_ratio.setdefault(key, []).append(value)
    counts = _run_counts(k_runs)
    for key, estimator in (("memorization", scores.memorization), ("heldout", scores.heldout_accuracy)):
      curve[key] += list(scores.standard_error_by_runs(masks, correct, counts, estimator)["median_se"])
      # the same runs in the same order (same seed), the mean over examples instead of the median: the
      # median is 0 while most frequencies are 0 or 1, the mean shows how the error falls all the same
      curve[f"{key}_mean"] += list(scores.standard_error_by_runs(masks, correct, counts, _mean_se(estimator))[
          "median_se"])
    curve["ratio"] += [r] * len(counts)
    curve["runs"] += counts
  c = scores.cscore([s[0] for s in stacks], [s[1] for s in stacks])
  out = {"ratios": np.asarray(ratios, np.float64), "runs": np.asarray([s[0].shape[0] for s in stacks], np.int32),
         "labels": _uint(pred["labels"]), "clean_labels": _uint(pred["clean_labels"]),
         "test_labels": _uint(pred["test_labels"]),
         **{key: np.stack(value) if key.startswith(("memorization", "heldout", "influence")) else
            np.asarray(value, np.float64) for key, value in per_ratio.items()},
         "cscore": f16(c["score"]), "cscore_se": f16(c["se"]),
         "auc_cscore": np.float64(scores.auc(-c["score"], corrupted)) if noisy else np.float64(nan),
         "se_curve_ratio": np.asarray(curve["ratio"], np.int32), "se_curve_runs": np.asarray(curve["runs"], np.int32),
         **{f"se_curve_{key}": np.asarray(curve[key], np.float64)
            for key in ("memorization", "heldout", "memorization_mean", "heldout_mean")}}
  run = runs[sorted(runs)[0]]
  out["class_names"] = np.asarray(_class_names(run, out))
  out.update(_thumbnails(run, out))
  return out


def _mean_se(estimator):
  """``estimator`` whose ``se`` is its mean over the examples where it is defined (one value):
  :func:`rethink_jax.scores.standard_error_by_runs`'s median of it is that mean."""
  import jax.numpy as jnp

  return lambda masks, correct: {"se": jnp.nanmean(estimator(masks, correct)["se"], keepdims=True)}


def _class_names(run: dict, arrays: dict) -> list[str]:
  """The dataset's class names (:data:`rethink_jax.data.CLASS_NAMES`), else the class indices."""
  from rethink_jax import data

  num = int(max(arrays["labels"].max(initial=0), arrays["clean_labels"].max(initial=0),
                arrays["test_labels"].max(initial=0))) + 1
  names = data.CLASS_NAMES.get(run["config"].get("data", {}).get("name"))
  return list(names) if names and len(names) >= num else [str(i) for i in range(num)]


def _thumbnails(run: dict, arrays: dict) -> dict:
  """The images of the examples the figures show (:func:`_shown`), from the dataset the run
  trained on; none, and ``images_note`` saying why, where it cannot be loaded."""
  import numpy as np

  from rethink_jax.configs import schema

  train_index, test_index = _shown(arrays)
  config = schema.complete(run["config"])
  x_train = x_test = None
  if config.data.source == "arrays":
    note = ("the runs trained on arrays of their own (data.source = 'arrays'), which a report cannot load: the "
            "image figures are left out")
  else:
    from rethink_jax import train

    try:
      ds = train.load_dataset(config)
      x_train, x_test = np.asarray(ds.x_train), np.asarray(ds.x_test)
      note = ""
    except (ValueError, OSError) as e:  # data.DataError, validation.ConfigError, a missing file
      note = f"the dataset could not be loaded here ({type(e).__name__}: {e}): the image figures are left out"
    if x_train is not None and (len(x_train) != len(arrays["labels"]) or len(x_test) != len(arrays["test_labels"])):
      note = (f"the dataset loaded here has {len(x_train)} training and {len(x_test)} test images, the runs "
              f"{len(arrays['labels'])} and {len(arrays['test_labels'])}: the image figures are left out")
      x_train = None
  if x_train is None:
    empty = np.zeros((0, 0, 0, 0), np.uint8)
    return {"train_thumb_index": np.zeros(0, np.int32), "train_thumbs": empty,
            "test_thumb_index": np.zeros(0, np.int32), "test_thumbs": empty, "images_note": np.asarray(note)}
  return {"train_thumb_index": train_index.astype(np.int32), "train_thumbs": x_train[train_index].astype(np.uint8),
          "test_thumb_index": test_index.astype(np.int32), "test_thumbs": x_test[test_index].astype(np.uint8),
          "images_note": np.asarray("")}


def read_scores(path) -> dict:
  """The arrays of a ``scores.npz`` (:data:`SCORE_ARRAYS`; a sweep directory or the file); a
  missing, corrupt or older file raises :class:`~rethink_jax.records.RecordError` naming it."""
  return records.read_npz(path, SCORES, "scores", required=tuple(SCORE_ARRAYS))


# ----------------------------------------------------------------------------- what the figures show

def _main_ratio(arrays: dict) -> int:
  """The index of the ratio the figures show: the one nearest :data:`MAIN_RATIO`."""
  import numpy as np

  return int(np.argmin(np.abs(arrays["ratios"] - MAIN_RATIO)))


def _ranked(score, then, candidates, descending: bool):
  """``candidates`` (indices) with a defined ``score``, by score (largest first if
  ``descending``), ties by ``then`` (the same way; NaN last), then by index."""
  import numpy as np

  idx = candidates[~np.isnan(score[candidates].astype(np.float64))]
  sign = -1.0 if descending else 1.0
  second = np.nan_to_num(sign * then[idx].astype(np.float64), nan=np.inf)
  return idx[np.lexsort((idx, second, sign * score[idx].astype(np.float64)))]


def _grid_rows(arrays: dict, which: str) -> list[tuple[int, list, list]]:
  """``(class, left, right)`` per row of a grid: for ``"memorization"`` the most and the least
  memorized training examples of the class (by given label) at the main ratio, ties by
  held-out accuracy (lowest, resp. highest, first: with few runs many scores tie at 1 and
  0); for ``"cscore"`` the lowest and the highest C-scores, ties by memorization (highest,
  resp. lowest, first)."""
  import numpy as np

  r = _main_ratio(arrays)
  if which == "memorization":
    score, then = arrays["memorization"][r], -arrays["heldout_accuracy"][r].astype(np.float64)
  else:
    score, then = -arrays["cscore"].astype(np.float64), arrays["memorization"][r]
  rows = []
  for c in range(min(len(arrays["class_names"]), _GRID_CLASSES)):
    members = np.flatnonzero(arrays["labels"] == c)
    left, right = _ranked(score, then, members, True), _ranked(score, then, members, False)
    rows.append((c, list(left[:_PER_SIDE]), list(right[:_PER_SIDE])))
  return rows


def _top_pairs(arrays: dict, r: int, count: int = _TOP_PAIRS) -> list[tuple[int, int, float, float]]:
  """``(train index, test index, influence, se)`` of the ``count`` largest influences at ratio
  ``r``, from each test example's top-k; ties by test index, then rank."""
  import numpy as np

  score = arrays["influence_test_score"][r].astype(np.float64)
  test_j, rank = np.nonzero(~np.isnan(score))
  order = np.lexsort((rank, test_j, -score[test_j, rank]))[:count]
  index, se = arrays["influence_test_index"][r], arrays["influence_test_se"][r].astype(np.float64)
  return [(int(index[j, q]), int(j), float(score[j, q]), float(se[j, q])) for j, q in zip(test_j[order], rank[order])]


def _shown(arrays: dict):
  """``(training indices, test indices)`` of every image the figures show, sorted."""
  import numpy as np

  train = {i for which in ("memorization", "cscore") for _, left, right in _grid_rows(arrays, which)
           for i in left + right}
  pairs = _top_pairs(arrays, _main_ratio(arrays))
  train |= {i for i, _, _, _ in pairs}
  return np.asarray(sorted(train), np.int64), np.asarray(sorted({j for _, j, _, _ in pairs}), np.int64)


# ----------------------------------------------------------------------------- figures

def _describe(runs: dict, arrays: dict) -> dict:
  """What the titles and the text say about the runs: model, data, epochs, label noise."""
  from rethink_jax.configs import schema

  run = runs[sorted(runs)[0]]
  summaries = [r["summary"] for r in runs.values() if r["summary"]]
  config = schema.complete(run["config"])
  models = sorted({str(r["config"].get("model", "")) for r in runs.values()} - {""})
  data = sorted({data_label(s["dataset"]) for s in summaries})
  corrupted = arrays["labels"] != arrays["clean_labels"]
  k = sorted(set(arrays["runs"].tolist()))
  test_accuracy: dict[float, list[float]] = {}  # the runs' own test accuracy at their end, per ratio
  for r in runs.values():
    if r["summary"] and "ratio" in r.get("meta", {}):
      test_accuracy.setdefault(round(float(r["meta"]["ratio"]), 6), []).append(float(r["summary"]["test_accuracy"]))
  kind = config.corruption.kind
  takes_p = kind in corruptions.REGISTRY and corruptions.REGISTRY[kind].takes_p
  noise = KIND_LABELS.get(kind, kind) + (f", p = {config.corruption.p:g}" if takes_p else "")
  return {"model": " / ".join(models) or "—", "data": "; ".join(data) or "—",
          "k": "/".join(str(x) for x in k), "epochs": sorted({s["epoch"] for s in summaries}),
          "noise": noise, "kind": kind, "corrupted": corrupted, "noisy": bool(corrupted.any()),
          "n": len(arrays["labels"]), "m": len(arrays["test_labels"]),
          "subject": f"{' / '.join(models) or '—'}, {'; '.join(data) or '—'}, K = {'/'.join(str(x) for x in k)}",
          "ratio": float(arrays["ratios"][_main_ratio(arrays)]), "single_ratio": len(arrays["ratios"]) == 1,
          "test_accuracy": [test_accuracy.get(round(float(ratio), 6), []) for ratio in arrays["ratios"]]}


def _label(arrays: dict, i: int) -> str:
  """Training example ``i``'s given label, and its clean one where it differs."""
  names, given, clean = arrays["class_names"], int(arrays["labels"][i]), int(arrays["clean_labels"][i])
  return str(names[given]) + ("" if given == clean else f" (clean: {names[clean]})")


def _show(ax, image, title: str, corrupted: bool = False) -> None:
  """An image without ticks, titled; a red frame and title for a corrupted label."""
  if image.shape[-1] == 1:
    ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
  else:
    ax.imshow(image)
  ax.set_xticks([])
  ax.set_yticks([])
  for spine in ax.spines.values():
    spine.set_visible(corrupted)
    spine.set_color("red")
    spine.set_linewidth(3)
  ax.set_title(title, fontsize=6.5, color="red" if corrupted else "black")


def _grid(arrays: dict, info: dict, which: str, path: pathlib.Path) -> pathlib.Path:
  """Per class a row: left the most memorized (lowest C-score) training examples, right the
  least memorized (highest C-score), each titled with its score and label.

  One axes in inches for the whole sheet, each thumbnail an image placed by its extent: a
  grid of 10 x 11 subplots took seconds to lay out and draw, this a fraction of one."""
  from matplotlib.patches import Rectangle

  plt = pyplot()
  rows = _grid_rows(arrays, which)
  position = {int(i): p for p, i in enumerate(arrays["train_thumb_index"])}
  score = arrays["memorization"][_main_ratio(arrays)] if which == "memorization" else arrays["cscore"]
  cell_w, cell_h, side = 1.05, 1.25, 0.8   # inches: a column, a row (title above its image), an image
  label_w, gap, head = 0.35, 0.3, 0.75      # the class names' column, between the sides, the title
  width = label_w + 2 * _PER_SIDE * cell_w + gap
  height = head + cell_h * len(rows)
  fig = plt.figure(figsize=(width, height))
  ax = fig.add_axes((0, 0, 1, 1))
  ax.axis("off")
  for row, (c, left, right) in enumerate(rows):
    bottom = head + cell_h * (row + 1) - 0.05  # y grows downwards
    ax.text(label_w - 0.05, bottom - side / 2, str(arrays["class_names"][c]), fontsize=8, rotation=90,
            ha="right", va="center")
    for x0, examples in ((label_w, left), (label_w + _PER_SIDE * cell_w + gap, right)):
      for col, i in enumerate(examples[:_PER_SIDE]):
        if int(i) not in position:
          continue
        x, top = x0 + col * cell_w + (cell_w - side) / 2, bottom - side
        image = arrays["train_thumbs"][position[int(i)]]
        gray = image.shape[-1] == 1
        ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0, vmax=255,
                  extent=(x, x + side, bottom, top), interpolation="nearest")
        noisy = bool(arrays["labels"][i] != arrays["clean_labels"][i])
        if noisy:
          ax.add_patch(Rectangle((x, top), side, side, fill=False, edgecolor="red", linewidth=3))
        ax.text(x + side / 2, top - 0.04, f"{float(score[i]):.2f} #{i}\n{_label(arrays, i)}", fontsize=6.5,
                ha="center", va="bottom", color="red" if noisy else "black")
  ax.set_xlim(0, width)
  ax.set_ylim(height, 0)
  ax.set_aspect("auto")
  if which == "memorization":
    name = f"memorization (subset ratio {info['ratio']:.2f})"
    sides = "left: most memorized, right: least memorized"
  else:
    name = "C-score" + (f" (held-out accuracy, subset ratio {info['ratio']:.2f})" if info["single_ratio"] else
                        f" (over subset ratios {', '.join(f'{r:.2f}' for r in arrays['ratios'])})")
    sides = "left: lowest, right: highest"
  more = f"; the first {len(rows)} of {len(arrays['class_names'])} classes" if len(arrays["class_names"]) > len(rows) \
      else ""
  ax.text(width / 2, 0.08, f"Training examples by {name}, per class (given label){more}\n{sides}; red frame: "
          f"corrupted label, its clean label in parentheses\n{info['subject']}", fontsize=9, ha="center", va="top")
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def _histograms(arrays: dict, info: dict, path: pathlib.Path) -> pathlib.Path:
  """Histograms of memorization (at the main ratio) and of the C-score, clean and corrupted
  examples apart when there is label noise."""
  import numpy as np

  plt = pyplot()
  r = _main_ratio(arrays)
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
  noisy = info["corrupted"]
  cscore_name = f"held-out accuracy at ratio {info['ratio']:.2f}" if info["single_ratio"] else \
      f"mean held-out accuracy over {len(arrays['ratios'])} ratios"
  for ax, values, bins, xlabel, title in (
      (axes[0], arrays["memorization"][r], np.linspace(-1, 1, 41), "memorization score",
       f"memorization, subset ratio {info['ratio']:.2f}"),
      (axes[1], arrays["cscore"], np.linspace(0, 1, 21), "C-score", f"C-score ({cscore_name})")):
    values = values.astype(np.float64)
    groups = ((~noisy, "clean labels", dict(alpha=0.6)), (noisy, "corrupted labels", dict(histtype="step", hatch="//",
                                                                                         linewidth=1.5)))
    for group, label, style in groups if info["noisy"] else ((np.ones_like(noisy), "all", dict(alpha=0.6)),):
      v = values[group & ~np.isnan(values)]
      ax.hist(v, bins=bins, label=f"{label} ({v.size:,})", **style)
    ax.set(xlabel=xlabel, ylabel="training examples", title=title)
    ax.legend(fontsize=8)
  fig.suptitle(f"Memorization and C-scores of the training examples\n{info['subject']}", fontsize=10)
  fig.tight_layout()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def _influence_pairs(arrays: dict, info: dict, path: pathlib.Path) -> pathlib.Path:
  """The largest influences at the main ratio, each a training image beside the test image it
  helps, titled with labels and influence ± se."""
  pairs = _top_pairs(arrays, _main_ratio(arrays))
  plt = pyplot()
  per_row = 5
  rows = max(1, -(-len(pairs) // per_row))
  fig, axes = plt.subplots(rows, 2 * per_row, figsize=(1.3 * 2 * per_row, 2.1 * rows + 0.6), squeeze=False)
  train_pos = {int(i): p for p, i in enumerate(arrays["train_thumb_index"])}
  test_pos = {int(j): p for p, j in enumerate(arrays["test_thumb_index"])}
  names = arrays["class_names"]
  for ax in axes.flat:
    ax.axis("off")
  for q, (i, j, score, se) in enumerate(pairs):
    if i not in train_pos or j not in test_pos:  # a scores.npz whose thumbnails are not these
      continue
    a, b = axes[q // per_row, 2 * (q % per_row)], axes[q // per_row, 2 * (q % per_row) + 1]
    a.axis("on")
    b.axis("on")
    noisy = bool(arrays["labels"][i] != arrays["clean_labels"][i])
    _show(a, arrays["train_thumbs"][train_pos[i]], f"train #{i} →\n{_label(arrays, i)}", noisy)
    _show(b, arrays["test_thumbs"][test_pos[j]], f"test #{j}\n{names[int(arrays['test_labels'][j])]}\n"
          f"infl {score:.2f} ± {se:.2f}")
  fig.suptitle(f"The {len(pairs)} largest influences of a training example (left) on a test example (right), "
               f"subset ratio {info['ratio']:.2f}\nred frame: corrupted training label; {info['subject']}", fontsize=9)
  fig.tight_layout(h_pad=1.5)
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


def _standard_error(arrays: dict, info: dict, path: pathlib.Path) -> pathlib.Path:
  """Standard error of memorization (left) and of held-out accuracy (right) against the number
  of runs K, per ratio, log-log: its median over the examples (solid) and its mean (dashed; the
  median is 0 while most frequencies are 0 or 1), with a 1/sqrt(K) guide."""
  import numpy as np

  plt = pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for ax, key, name in ((axes[0], "se_curve_memorization", "memorization"),
                        (axes[1], "se_curve_heldout", "held-out accuracy")):
    guide = None
    for r, ratio in enumerate(arrays["ratios"]):
      at = arrays["se_curve_ratio"] == r
      k = arrays["se_curve_runs"][at]
      for suffix, stat, style in (("", "median", dict(ls="-", marker="o")), ("_mean", "mean", dict(ls="--", marker="s",
                                                                                                 mfc="none"))):
        se = arrays[key + suffix][at]
        ok = np.isfinite(se) & (se > 0)  # a median of 0 has no place on a log axis
        if ok.any():
          ax.plot(k[ok], se[ok], color=colors[r % len(colors)], label=f"{stat}, ratio {ratio:.2f}", **style)
          if guide is None or (suffix == "_mean" and guide[2] != "_mean"):
            guide = (k[ok], se[ok][-1] * np.sqrt(k[ok][-1]), suffix)
    if guide is not None:
      ks = np.geomspace(guide[0].min(), guide[0].max(), 50)
      ax.plot(ks, guide[1] / np.sqrt(ks), ":", color="gray", label="∝ 1/√K")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted(set(arrays["se_curve_runs"].tolist()))
    ax.set_xticks(ticks, [str(x) for x in ticks])
    ax.set_xticks([], minor=True)
    ax.set(xlabel="runs K", ylabel="standard error over the examples", title=name)
    if ax.get_legend_handles_labels()[0]:
      ax.legend(fontsize=7)
    else:
      ax.text(0.5, 0.5, "every standard error is 0 or undefined", ha="center", transform=ax.transAxes)
  fig.suptitle(f"Standard error of the scores against the number of runs (solid: median, dashed: mean over the "
               f"examples)\n{info['subject']}", fontsize=10)
  fig.tight_layout()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


CSCORE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the held-out-by-ratio figure's groups, by C-score


def _cscore_groups(arrays: dict) -> list[tuple[str, "np.ndarray"]]:
  """``(name, [n] bool)`` of the held-out-by-ratio figure's groups: the training examples by
  C-score in the bins of :data:`CSCORE_BINS` (fixed bins, not quantiles: with few runs many
  scores tie at 0 and 1), the empty ones left out; those without a C-score in none."""
  import numpy as np

  c = arrays["cscore"].astype(np.float64)
  groups = []
  for q, (low, high) in enumerate(zip(CSCORE_BINS[:-1], CSCORE_BINS[1:])):
    last = q == len(CSCORE_BINS) - 2
    member = (c >= low) & ((c <= high) if last else (c < high))  # NaN is in none
    if member.any():
      groups.append((f"C-score in [{low:.1f}, {high:.1f}{']' if last else ')'}", member))
  return groups


def _heldout_by_ratio(arrays: dict, info: dict, path: pathlib.Path) -> pathlib.Path:
  """Held-out accuracy against the subset ratio (Jiang et al.'s view of the C-score): the mean
  over the training examples of each C-score bin (:data:`CSCORE_BINS`), over all of them, over the corrupted
  ones with label noise, and the runs' own test accuracy (mean and range over the runs)."""
  import numpy as np

  plt = pyplot()
  ratios = arrays["ratios"]
  held = arrays["heldout_accuracy"].astype(np.float64)
  fig, ax = plt.subplots(figsize=(7, 4.6))
  cmap = plt.get_cmap("viridis")
  groups = _cscore_groups(arrays)
  for g, (name, member) in enumerate(groups):
    ax.plot(ratios, [_mean(h, member) for h in held], marker="o", color=cmap(0.9 * g / max(1, len(groups) - 1)),
            label=f"{name}, {int(member.sum()):,} examples")
  everyone = np.ones(info["n"], bool)
  ax.plot(ratios, [_mean(h, everyone) for h in held], "k-", marker="s", lw=2, label="all training examples")
  if info["noisy"]:
    ax.plot(ratios, [_mean(h, info["corrupted"]) for h in held], color="red", ls="-", marker="x",
            label=f"corrupted labels ({int(info['corrupted'].sum()):,})")
  tests = info["test_accuracy"]
  at = [q for q, t in enumerate(tests) if t]
  if at:
    ax.errorbar(ratios[at], [np.mean(tests[q]) for q in at],
                yerr=np.array([[np.mean(tests[q]) - min(tests[q]) for q in at],
                               [max(tests[q]) - np.mean(tests[q]) for q in at]]),
                fmt="--", color="gray", capsize=3, label="the runs' test accuracy (mean, range)")
  ax.set(xlabel="subset ratio (fraction of the training set each run trains on)", ylim=(-0.02, 1.02),
         ylabel="held-out accuracy (mean over the group)", xticks=ratios)
  ax.set_xticklabels([f"{r:.2f}" for r in ratios])
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  ax.set_title(f"Held-out accuracy of the training examples against the subset ratio\n{info['subject']}", fontsize=10)
  fig.tight_layout()
  out = atomic_png(fig, path)
  plt.close(fig)
  return out


# ----------------------------------------------------------------------------- markdown

def _num(x, digits: int = 3) -> str:
  """A number with ``digits`` decimals; ``—`` for NaN."""
  import math

  return "—" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _mean(values, where) -> float:
  """Mean of the defined ``values`` at ``where`` (float64), NaN if none."""
  import numpy as np

  v = values.astype(np.float64)[where]
  v = v[~np.isnan(v)]
  return float(v.mean()) if v.size else float("nan")


def _cost(runs: dict) -> str:
  """Training time of the sweep and its images per second; with several ratios, the same per
  ratio. A run of a vmapped group counts its share of the group's time (1 / the group's runs),
  so runs reused from a larger program count only their part of it."""
  groups: dict = {}
  for run in runs.values():
    s = run["summary"]
    if s:
      share = 1 / s.get("vmapped_runs", 1)  # a vmapped group's runs each record the group's time
      g = groups.setdefault(run.get("meta", {}).get("ratio"), [0.0, 0.0, 0.0, 0])
      g[0] += s["train_seconds"] * share
      g[1] += s["step"] * run["config"].get("batch_size", 0)
      g[2] += share
      g[3] += 1
  seconds, images, programs, count = (sum(g[q] for g in groups.values()) for q in range(4))
  if not seconds:
    return "No finished run records its training time."
  from rethink_jax import segments

  whole = abs(programs - round(programs)) < 1e-6
  rate = f"{images:,.0f} images, {images / seconds:,.0f} images/s; evaluation and I/O excluded"
  text = (f"{duration(seconds)} of training steps for {count} runs in {round(programs)} "
          f"program{'s' * (round(programs) != 1)} ({rate})." if whole else
          f"{duration(seconds)} of training steps for {count} runs, {programs:.2f} programs' worth (some runs are "
          f"part of a larger vmapped program, reused: a run counts its share of its program's time): {rate}.")
  if len(groups) > 1 and None not in groups:
    text += " Per ratio: " + "; ".join(
        f"{ratio:.2f}: {g[3]} runs, {duration(g[0])}, {g[1] / g[0]:,.0f} images/s" if g[0] else
        f"{ratio:.2f}: {g[3]} runs" for ratio, g in sorted(groups.items())) + "."
  rss = [seg["peak_rss_gb"] for run in runs.values() if pathlib.Path(run["dir"]).is_dir()
         for seg in segments.read_segments(run["dir"]) if seg.get("peak_rss_gb") is not None]
  return text + (f" Peak resident memory of a training process: {max(rss):.2f} GB." if rss else "")


def _markdown(arrays: dict, info: dict, runs: dict) -> str:
  """``memorization_scores.md``: what ran, the table per ratio, the C-score, the top influence
  pairs, the cost, the provenance and the figures."""
  import numpy as np

  noisy, corrupted = info["noisy"], info["corrupted"]
  ratios = arrays["ratios"]
  epochs = "/".join(f"{e:g}" for e in info["epochs"]) or "—"
  lines = ["# Memorization, influence and consistency scores", "",
           f"{info['model']} on {info['data']} ({info['n']:,} training and {info['m']:,} test images), labels: "
           f"{info['noise']}" + (f" ({int(corrupted.sum()):,} training labels, {corrupted.mean():.2%}, differ from the "
                                 "clean ones; one draw shared by every run)" if noisy else "")
           + f". K = {info['k']} runs at each subset ratio "
           f"({', '.join(f'{r:.2f}' for r in ratios)}), each trained for {epochs} epochs of its own random subset of "
           "the training set; the scores come from each run's predictions at its end (`rethink_jax.scores`): "
           "memorization and influence (Feldman & Zhang, 2020), held-out accuracy and C-score (Jiang et al., 2021).",
           "", "### Per subset ratio", "",
           "| ratio | K | runs' test accuracy | mean held-out accuracy | mean memorization: all | clean | corrupted | "
           "split-half reliability: memorization | held-out accuracy | AUC for the corrupted: memorization | "
           "-held-out accuracy | median (mean) se at K: memorization | held-out accuracy |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  everyone = np.ones(info["n"], bool)
  for r, ratio in enumerate(ratios):
    mem = arrays["memorization"][r]
    at_k = (arrays["se_curve_ratio"] == r) & (arrays["se_curve_runs"] == arrays["runs"][r])
    at_k = at_k if at_k.any() else None
    se = lambda key: "—" if at_k is None else f"{_num(arrays[key][at_k][0])} ({_num(arrays[key + '_mean'][at_k][0])})"
    tests = info["test_accuracy"][r]
    test = f"{_num(min(tests))}-{_num(max(tests))}" if tests else "—"
    lines.append(f"| {ratio:.2f} | {arrays['runs'][r]} | {test} | {_num(_mean(arrays['heldout_accuracy'][r], everyone))} "
                 f"| {_num(_mean(mem, everyone))} | {_num(_mean(mem, ~corrupted))} "
                 f"| {_num(_mean(mem, corrupted))} | {_num(arrays['reliability_memorization'][r])} | "
                 f"{_num(arrays['reliability_heldout'][r])} | {_num(arrays['auc_memorization'][r])} | "
                 f"{_num(arrays['auc_heldout'][r])} | {se('se_curve_memorization')} | {se('se_curve_heldout')} |")
  lines += ["", "Runs' test accuracy: the lowest and highest over the runs of the ratio, at their end. Held-out "
            "accuracy: over the training examples, each one's accuracy in the runs that did not train on it.",
            "", "Split-half reliability: the Spearman correlation of the scores estimated from two disjoint halves of "
            "the runs (Spearman-Brown, 2r / (1 + r), extrapolates it to all K). With few runs the binomial standard "
            "error is often 0 and understates the uncertainty."]
  if noisy:
    lines += ["", f"AUC for the {int(corrupted.sum()):,} corrupted examples (1: every corrupted example ranks first, "
              "0.5: chance): memorization " + ", ".join(f"{_num(a)} (ratio {r:.2f})" for a, r in
                                                       zip(arrays["auc_memorization"], ratios))
              + f"; -C-score {_num(float(arrays['auc_cscore']))}."]
  else:
    lines += ["", "AUC: no training label differs from its clean label, so there are no corrupted examples to find."]
  cs, cs_se = arrays["cscore"], arrays["cscore_se"].astype(np.float64)
  never = int(np.isnan(cs.astype(np.float64)).sum())
  lines += ["", "### C-score", "",
            ("Held-out accuracy at the one subset ratio (a C-score over one ratio)" if info["single_ratio"] else
             f"Mean held-out accuracy over the {len(ratios)} subset ratios") +
            f": mean {_num(_mean(cs, everyone))} over all training examples"
            + (f", {_num(_mean(cs, ~corrupted))} clean, {_num(_mean(cs, corrupted))} corrupted" if noisy else "")
            + f"; median standard error {_num(float(np.nanmedian(cs_se)) if (~np.isnan(cs_se)).any() else None)}"
            + (f"; AUC of -C-score for the corrupted examples {_num(float(arrays['auc_cscore']))}" if noisy else "")
            + (f"; {never:,} examples, never held out, have none." if never else ".")]
  r = _main_ratio(arrays)
  pairs = _top_pairs(arrays, r)
  names = arrays["class_names"]
  lines += ["", f"### The {len(pairs)} largest influences (subset ratio {ratios[r]:.2f})", "",
            "Influence of training example i on test example j: P[j correct | i in S] - P[j correct | i not in S]. "
            f"Among {info['n']:,} x {info['m']:,} pairs and K = {arrays['runs'][r]} runs, many pairs reach a large "
            "influence by chance (a test example right in only the few runs that held i): with few runs, read "
            "these as candidates, not findings.",
            "", "| rank | train index | label | test index | label | influence ± se |",
            "|---:|---:|---|---:|---|---:|"]
  for q, (i, j, score, se) in enumerate(pairs):
    lines.append(f"| {q + 1} | {i} | {_label(arrays, i)} | {j} | {names[int(arrays['test_labels'][j])]} | "
                 f"{score:.3f} ± {se:.3f} |")
  lines += ["", "### Cost", "", _cost(runs), "", provenance(runs), "", "### Figures (in the sweep directory)", ""]
  return "\n".join(lines + _figure_lines(arrays, info, ratios[r], noisy)) + "\n"


def _figure_lines(arrays: dict, info: dict, ratio: float, noisy: bool) -> list[str]:
  """The markdown's list of the figures the report wrote (no image figures without images)."""
  lines = []
  note = str(arrays["images_note"])
  if note:
    lines.append(f"No image figures: {note}.")
  else:
    changed = info["kind"] in corruptions.REGISTRY and corruptions.REGISTRY[info["kind"]].changes == "inputs"
    lines += [f"- `memorization-grid.png`: per class, the most and least memorized training "
              f"examples (subset ratio {ratio:.2f}), corrupted labels framed red",
              "- `cscore-grid.png`: per class, the lowest and highest C-scores"]
    if changed:
      lines.append(f"- the images are shown as loaded, before {info['noise']} changed them")
  lines.append("- `scores-histograms.png`: histograms of memorization and of the C-score"
               + (", clean and corrupted examples apart" if noisy else ""))
  if not note:
    lines.append("- `influence-pairs.png`: the largest influences, training image -> test image")
  lines.append("- `standard-error.png`: median and mean standard error against the number of "
               "runs K (with few runs many frequencies are 0 or 1, whose binomial error is 0: the curves can rise "
               "with K before they fall as 1/sqrt(K))")
  if not info["single_ratio"]:
    lines.append("- `heldout-by-ratio.png`: held-out accuracy against the subset ratio, per group of the "
                 "training examples by C-score (bins of 0.2), beside the runs' test accuracy")
  return lines
