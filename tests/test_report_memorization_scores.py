"""The memorization_scores report from one short sweep of the experiment's cpu preset (6 runs on
random 50% and 6 on random 70% subsets of the embedded sample with 20% of its labels
corrupted, 8 epochs each): the scores it writes equal the estimators recomputed from the run
directories, and the same report is rebuilt from ``scores.npz`` and the json records alone.
The one-ratio sweep takes its 70% runs from the two-ratio one (``--reuse``), as the C-score
results reused the 64-run sweep's."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rethink_jax import records, report, scores

from rethink_jax.report import scores as ms  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
RUNS = 6
FIGURES = ("memorization-grid.png", "cscore-grid.png", "scores-histograms.png", "influence-pairs.png",
           "standard-error.png")
OUTPUTS = (ms.SCORES, "memorization_scores.md") + FIGURES
# every test here uses the one trained sweep: on one worker it is trained once
pytestmark = pytest.mark.xdist_group("memorization_scores_sweep")


def _command(workdir, *flags):
  out = subprocess.run([sys.executable, "-m", "rethink_jax", "memorization_scores", f"--config.sweep.runs={RUNS}",
                        "--config.num_epochs=8", "--workdir", str(workdir), *flags],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
  assert out.returncode == 0, out.stderr[-4000:]
  return out.stdout


@pytest.fixture(scope="module")
def two_ratios(tmp_path_factory):
  """A sweep over two subset ratios, 6 runs each (one vmapped program per ratio): the C-score over ratios."""
  workdir = tmp_path_factory.mktemp("memorization_scores_ratios")
  stdout = _command(workdir, "--config.sweep.ratios=(0.5,0.7)")
  assert sorted(re.findall(r"^wrote .*/([^/\n]+)$", stdout, re.M)) == sorted(OUTPUTS + ("heldout-by-ratio.png",))
  return workdir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, two_ratios):
  """The one-ratio (0.7) sweep directory, its runs taken from ``two_ratios`` and reported by the command line."""
  workdir = tmp_path_factory.mktemp("memorization_scores")
  stdout = _command(workdir, "--reuse", str(two_ratios))
  assert len(re.findall(r"^\[ratio0\.70-run\d{3}\] reused from ", stdout, re.M)) == RUNS
  assert "vmapped program" not in stdout  # nothing trained again
  assert sorted(re.findall(r"^wrote .*/([^/\n]+)$", stdout, re.M)) == sorted(OUTPUTS)
  return workdir


def _runs_arrays(sweep_dir):
  """Masks, train correctness and the predictions of the first run, from the run directories."""
  runs = records.read_sweep(sweep_dir)[1]
  masks = np.stack([records.read_subset(runs[n]["dir"]) for n in sorted(runs)])
  preds = [records.read_predictions(runs[n]["dir"]) for n in sorted(runs)]
  return masks, np.stack([p["train_correct"] for p in preds]), preds[0]


def _records_copy(sweep_dir, dest):
  """What results/ keeps of a sweep: its json records and scores.npz, nothing else."""
  records.copy_records(sweep_dir, dest)
  shutil.copy(sweep_dir / ms.SCORES, dest / ms.SCORES)
  assert not list(dest.rglob(records.PREDICTIONS)) and not list(dest.rglob(records.SUBSET))
  return dest


def test_report_files_and_scores_equal_the_estimators(sweep):
  assert report.ARTIFACTS["memorization_scores"] is ms.memorization_scores
  for name in FIGURES:
    assert (sweep / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (sweep / name).stat().st_size > 5000
  saved = ms.read_scores(sweep)
  masks, correct, pred = _runs_arrays(sweep)
  corrupted = pred["labels"] != pred["clean_labels"]
  assert saved["runs"].tolist() == [RUNS] and saved["ratios"].tolist() == [0.7]
  mem, held = scores.memorization(masks, correct), scores.heldout_accuracy(masks, correct)
  # float16 holds a score in [-1, 1] to 2.4e-4
  np.testing.assert_allclose(saved["memorization"][0].astype(np.float32), mem["score"], atol=2.5e-4, equal_nan=True)
  np.testing.assert_allclose(saved["memorization_se"][0].astype(np.float32), mem["se"], atol=2.5e-4, equal_nan=True)
  np.testing.assert_allclose(saved["heldout_accuracy"][0].astype(np.float32), held["score"], atol=2.5e-4,
                             equal_nan=True)
  np.testing.assert_array_equal(saved["labels"], pred["labels"])
  np.testing.assert_array_equal(saved["clean_labels"], pred["clean_labels"])
  assert saved["auc_memorization"][0] == pytest.approx(float(scores.auc(mem["score"], corrupted)), abs=1e-6)
  assert saved["auc_heldout"][0] == pytest.approx(float(scores.auc(-held["score"], corrupted)), abs=1e-6)
  assert saved["auc_heldout"][0] > 0.55  # a held-out example is rarely predicted as its corrupted label
  # the thumbnails are the images of the examples they name
  from rethink_jax import train
  from rethink_jax.configs import schema

  ds = train.load_dataset(schema.complete(next(iter(records.read_sweep(sweep)[1].values()))["config"]))
  np.testing.assert_array_equal(saved["train_thumbs"], ds.x_train[saved["train_thumb_index"]])
  np.testing.assert_array_equal(saved["test_thumbs"], ds.x_test[saved["test_thumb_index"]])
  text = (sweep / "memorization_scores.md").read_text()
  tests = [run["summary"]["test_accuracy"] for run in records.read_sweep(sweep)[1].values()]
  held_mean = float(np.nanmean(saved["heldout_accuracy"][0].astype(np.float64)))
  assert f"K = {RUNS} runs at each subset ratio (0.70)" in text
  assert f"| 0.70 | 6 | {min(tests):.3f}-{max(tests):.3f} | {held_mean:.3f} |" in text
  assert not (sweep / "heldout-by-ratio.png").exists()  # one ratio: no curve over ratios
  auc = re.search(r"^AUC for the ([\d,]+) corrupted examples .*: memorization (0\.\d{3}) \(ratio 0\.70\)", text, re.M)
  assert auc and int(auc.group(1).replace(",", "")) == corrupted.sum()
  assert float(auc.group(2)) == pytest.approx(saved["auc_memorization"][0], abs=5e-4)
  for name in FIGURES:
    assert f"- `{name}`" in text
  assert (sweep / ms.SCORES).stat().st_size < 1_000_000
  from rethink_jax import segments

  peak = max(seg["peak_rss_gb"] for run in records.read_sweep(sweep)[1].values()
             for seg in segments.read_segments(run["dir"]))
  assert peak > 0.1 and f"Peak resident memory of a training process: {peak:.2f} GB." in text


def test_influence_pairs_are_the_largest(sweep):
  saved = ms.read_scores(sweep)
  runs = records.read_sweep(sweep)[1]
  masks = np.stack([records.read_subset(runs[n]["dir"]) for n in sorted(runs)])
  test_correct = np.stack([records.read_predictions(runs[n]["dir"])["test_correct"] for n in sorted(runs)])
  dense = scores.influence(masks, test_correct)["score"]
  text = (sweep / "memorization_scores.md").read_text()
  rows = re.findall(r"^\| (\d+) \| (\d+) \| [^|]+ \| (\d+) \| [^|]+ \| (-?[\d.]+) ± [\d.]+ \|$", text, re.M)
  assert [int(r[0]) for r in rows] == list(range(1, 11))
  best = float(np.nanmax(dense))
  for _, i, j, value in rows:
    assert float(value) == pytest.approx(float(dense[int(i), int(j)]), abs=1e-3)
  assert float(rows[0][3]) == pytest.approx(best, abs=1e-3)
  assert saved["influence_test_score"].shape == (1, test_correct.shape[1], ms.INFLUENCE_K)


def test_rebuilt_from_scores_alone(sweep, tmp_path, monkeypatch):
  copy = _records_copy(sweep, tmp_path / "results")
  from rethink_jax import train

  def no_data(config):
    raise AssertionError("the rebuild from scores.npz must not load the dataset")

  monkeypatch.setattr(train, "load_dataset", no_data)
  before = (copy / ms.SCORES).read_bytes()
  written = report.build(copy)
  assert sorted(p.name for p in written) == sorted(OUTPUTS)
  assert (copy / ms.SCORES).read_bytes() == before  # read, not rewritten
  assert (copy / "memorization_scores.md").read_text() == (sweep / "memorization_scores.md").read_text()
  for name in FIGURES:  # the same figures, drawn from the same arrays
    assert (copy / name).read_bytes() == (sweep / name).read_bytes()


def test_neither_predictions_nor_scores(sweep, tmp_path):
  copy = _records_copy(sweep, tmp_path / "bare")
  (copy / ms.SCORES).unlink()
  with pytest.raises(records.RecordError, match=re.escape(str(copy))) as err:
    ms.memorization_scores(copy)
  assert "\n" not in str(err.value) and records.PREDICTIONS in str(err.value)


def test_own_arrays_leave_out_the_image_figures(sweep, tmp_path):
  copy = tmp_path / "arrays"
  shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns("_vmapped", "tensorboard", "*.png", ms.SCORES))
  spec = json.loads((copy / records.SWEEP).read_text())
  for entry in spec["runs"].values():  # as runs on the user's own arrays record it, in sweep.json and config.json
    entry["config"]["data"]["source"] = "arrays"
    saved = records.read_json(copy / entry["dir"] / records.CONFIG)
    saved["config"]["data"]["source"] = "arrays"
    records.write_json(copy / entry["dir"] / records.CONFIG, saved)
  records.write_json(copy / records.SWEEP, spec)
  written = sorted(p.name for p in ms.memorization_scores(copy))
  assert written == sorted([ms.SCORES, "memorization_scores.md", "scores-histograms.png", "standard-error.png"])
  saved = ms.read_scores(copy)
  assert saved["train_thumbs"].size == 0 and "data.source = 'arrays'" in str(saved["images_note"])
  text = (copy / "memorization_scores.md").read_text()
  assert "No image figures: the runs trained on arrays of their own" in text and "memorization-grid.png" not in text
  np.testing.assert_array_equal(saved["memorization"], ms.read_scores(sweep)["memorization"])


def test_several_ratios_give_the_cscore_and_its_curves(two_ratios):
  saved = ms.read_scores(two_ratios)
  assert saved["ratios"].tolist() == [0.5, 0.7] and saved["runs"].tolist() == [RUNS, RUNS]
  runs = records.read_sweep(two_ratios)[1]
  by_ratio = {}
  for name in sorted(runs):
    run = runs[name]
    by_ratio.setdefault(run["meta"]["ratio"], []).append(
        (records.read_subset(run["dir"]), records.read_predictions(run["dir"])["train_correct"],
         run["summary"]["test_accuracy"]))
  assert sorted(by_ratio) == [0.5, 0.7]
  masks = [np.stack([m for m, _, _ in by_ratio[r]]) for r in (0.5, 0.7)]
  correct = [np.stack([c for _, c, _ in by_ratio[r]]) for r in (0.5, 0.7)]
  assert [int(m[0].sum()) for m in masks] == [1000, 1400]  # each ratio's subsets are its own size
  expect = scores.cscore(masks, correct)
  np.testing.assert_allclose(saved["cscore"].astype(np.float32), expect["score"], atol=2.5e-4, equal_nan=True)
  for r in range(2):
    np.testing.assert_allclose(saved["heldout_accuracy"][r].astype(np.float32), expect["per_ratio"][r],
                               atol=2.5e-4, equal_nan=True)
  text = (two_ratios / "memorization_scores.md").read_text()
  for r, ratio in enumerate((0.5, 0.7)):
    tests = [t for _, _, t in by_ratio[ratio]]
    held = float(np.nanmean(saved["heldout_accuracy"][r].astype(np.float64)))
    assert f"| {ratio:.2f} | {RUNS} | {min(tests):.3f}-{max(tests):.3f} | {held:.3f} |" in text
  assert "Mean held-out accuracy over the 2 subset ratios" in text and "- `heldout-by-ratio.png`" in text
  assert f"for {2 * RUNS} runs in 2 programs (" in text
  assert f"Per ratio: 0.50: {RUNS} runs, " in text and f"; 0.70: {RUNS} runs, " in text
  assert (two_ratios / "heldout-by-ratio.png").stat().st_size > 5000
  # the figure's groups: disjoint, every example with a C-score in one, named by their bins
  groups = ms._cscore_groups(saved)
  member = np.stack([m for _, m in groups])
  defined = ~np.isnan(saved["cscore"].astype(np.float64))
  np.testing.assert_array_equal(member.sum(0), defined.astype(int))
  for name, m in groups:
    low, high = (float(x) for x in re.findall(r"[\d.]+", name)[-2:])
    c = saved["cscore"][m].astype(np.float64)
    assert c.min() >= low and c.max() <= high and (c.max() < high or name.endswith("]"))


def test_runs_reused_from_a_larger_program_count_their_share(two_ratios, tmp_path):
  """The 0.70 runs as if taken from a 12-run program (``--reuse``): each counts 1/12 of its
  program's time, so the sweep is 1.5 programs' worth, and its time is the 0.50 group's plus
  half of the 0.70 group's."""
  copy = _records_copy(two_ratios, tmp_path / "reused")
  runs = records.read_sweep(copy)[1]
  seconds = {}
  for run in runs.values():
    s = run["summary"]
    seconds[run["meta"]["ratio"]] = s["train_seconds"]
    if run["meta"]["ratio"] == 0.7:
      records.write_json(pathlib.Path(run["dir"]) / records.SUMMARY, {**s, "vmapped_runs": 2 * RUNS})
  ms.memorization_scores(copy)
  text = (copy / "memorization_scores.md").read_text()
  cost = re.search(rf"^([\d.]+) s of training steps for {2 * RUNS} runs, 1\.50 programs' worth \(", text, re.M)
  assert cost, text[text.index("### Cost"):][:600]
  assert float(cost.group(1)) == pytest.approx(seconds[0.5] + seconds[0.7] / 2, abs=0.06)
