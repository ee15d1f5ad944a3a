import subprocess
import sys

import pytest

from rethink_jax import records, report


def _fixture_sweep(root, runs, artifact, config=None):
  """A sweep directory with hand-written run records: (name, meta, summary, metrics)."""
  root.mkdir(parents=True, exist_ok=True)
  records.write_sweep(root, artifact, {n: {"config": config or {}, "meta": m} for n, m, _, _ in runs})
  for name, _, summary, metrics in runs:
    (root / name).mkdir()
    if summary is not None:
      records.write_json(root / name / "summary.json", summary)
    records.write_jsonl(root / name / "metrics.jsonl", metrics)
    records.write_json(root / name / "config.json", {"environment": {
        "device_count": 1, "device_kinds": ["cpu"], "backend": "cpu", "versions": {"jax": "0.10.2"}}})


def _summary(train, test, step=100, seconds=60.0, fit=None):
  return {"train_accuracy": train, "test_accuracy": test, "step": step, "epoch": step / 10, "train_seconds": seconds,
          "dataset": "fixture data", "time_to_fit": fit}


def test_table1_from_fixture_records_exactly(tmp_path):
  meta = lambda model, crop, wd, rl: {"model": model, "random_crop": crop, "weight_decay": wd, "random_labels": rl}
  _fixture_sweep(tmp_path, [
      ("a", meta("mlp_1x512", False, False, False), _summary(1.0, 0.4512, 390), []),
      ("b", meta("mlp_1x512", False, False, True), _summary(0.99125, 0.1034, 780), []),
      ("c", meta("mlp_3x512", False, True, False), None, []),
  ], "table1", config={"batch_size": 128})
  records.write_json(tmp_path / "b" / "segments.json", {"segments": [
      {"first_step": 0, "last_step": 390, "command": "experiments/table1.py --only b"},
      {"first_step": 390, "last_step": 780, "command": "experiments/table1.py --only b"}]})
  text = report.table1(tmp_path).read_text()
  assert text == (
      "# Table 1: CIFAR-10 train / test accuracy (%)\n\n"
      "| model | random crop | weight decay | train (ours) | test (ours) | train (paper) | test (paper) | steps "
      "| training time | images/s |\n"
      "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
      "| mlp_1x512 | no | no | 100.00 | 45.12 | 100.00 | 50.51 | 390 | 60.0 s | 832 |\n"
      "| mlp_1x512 (random labels) | no | no | 99.12 | 10.34 | 99.34 | 10.61 | 780 | 60.0 s | 1,664 |\n"
      "| mlp_3x512 | no | yes | — | — | 100.00 | 53.35 | not run | — | — |\n\n"
      "Data: fixture data. Devices: 1 x cpu (cpu), jax 0.10.2. Training time, all runs: 2.0 min.\n"
      "\nMade by:\n\n    experiments/table1.py --only b\n")


def test_table1_gives_an_unfinished_row_its_last_evaluation_never_a_fit(tmp_path):
  meta = {"model": "inception_small", "random_crop": False, "weight_decay": False, "random_labels": True}
  rows = [{"step": 390, "batch_loss": 2.3, "train_seconds": 500.0, "train_accuracy": 0.11, "test_accuracy": 0.1},
          {"step": 780, "batch_loss": 2.1, "train_seconds": 1200.0, "train_accuracy": 0.3328, "test_accuracy": 0.1025},
          {"step": 858, "batch_loss": 2.0, "train_seconds": 1300.0}]  # training went on past its last evaluation
  _fixture_sweep(tmp_path, [("rl", meta, None, rows)], "table1", config={"batch_size": 128, "num_epochs": 100.0})
  saved = records.read_json(tmp_path / "rl" / "config.json")
  records.write_json(tmp_path / "rl" / "config.json", {**saved, "steps_per_epoch": 390,
                                                        "dataset": "npz file cifar10.npz | corrupted: random_labels"})
  text = report.table1(tmp_path).read_text()
  assert ("| inception_small (random labels) | no | no | 33.28 | 10.25 | 100.00 | 9.78 | 780 of 39000 (unfinished) "
          "| 20.0 min | 83 |") in text
  assert "they have not reached 100% train accuracy" in text
  assert "Data: npz file cifar10.npz. Devices: 1 x cpu (cpu), jax 0.10.2. Training time, all runs: 21.7 min." in text
  # Figure 1a's table says the same of an unfinished run
  (tmp_path / "fig").mkdir()
  records.write_sweep(tmp_path / "fig", "figure1a", {"random_labels": {
      "config": {"batch_size": 128, "num_epochs": 100.0}, "meta": {"kind": "random_labels"}, "dir": "rl"}})
  (tmp_path / "fig" / "rl").symlink_to(tmp_path / "rl")
  fig1a = report.figure1a_table(tmp_path / "fig").read_text()
  assert "| random labels | 780 of 39000 (unfinished) | 33.28 | 10.25 | not yet | 20.0 min |" in fig1a
  png = report.table1_curves(tmp_path)
  assert png.name == "table1.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
  (tmp_path / "rl" / "metrics.jsonl").write_text(
      '{"step": 78, "batch_loss": 2.3, "train_seconds": 90.0}\n')  # not evaluated yet: not run, as before
  text = report.table1(tmp_path).read_text()
  assert "| 100.00 | 9.78 | not run | — | — |" in text and "unfinished" not in text


def test_table1_marks_a_row_that_reached_its_budget_without_fitting(tmp_path):
  meta = lambda rl: {"model": "mlp_1x512", "random_crop": False, "weight_decay": False, "random_labels": rl}
  _fixture_sweep(tmp_path, [("fit", meta(False), _summary(1.0, 0.5, 390, fit={"step": 390, "epoch": 39.0}), []),
                            ("nofit", meta(True), _summary(0.983, 0.0971, 39000), [])],
                 "table1", config={"batch_size": 128, "stop_at_fit": True})
  text = report.table1(tmp_path).read_text()
  assert "| 100.00 | 50.00 | 100.00 | 50.51 | 390 | 60.0 s |" in text
  assert "| 98.30 | 9.71 | 99.34 | 10.61 | 39000 (budget; not fitted) | 60.0 s |" in text
  assert "stopped there below 100% train accuracy" in text
  records.write_sweep(tmp_path, "table1", {n: {"config": {"batch_size": 128}, "meta": meta(n == "nofit")}
                                           for n in ("fit", "nofit")})
  assert "not fitted" not in report.table1(tmp_path).read_text()  # a fixed budget without stop_at_fit: no claim


def test_a_percentage_short_of_100_never_reads_as_100():
  from rethink_jax.report.common import pct

  assert [pct(x) for x in (0.9999799728393555, 0.99996, 1.0, 0.99999994, 0.45123, 0.999949, None)] == \
      ["99.998", "99.996", "100.00", "100.00", "45.12", "99.99", "—"]


def test_reports_draw_headless_but_keep_a_chosen_backend():
  """Agg where nothing chose a backend (a server without a display); a backend chosen with
  MPLBACKEND (Jupyter's kernel sets it for inline plots) is kept, so a notebook's plots stay inline."""
  import os
  import subprocess
  import sys

  code = "from rethink_jax.report.common import pyplot; print(pyplot().get_backend().lower())"
  env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
  for chosen, expected in ((None, "agg"), ("pdf", "pdf"), ("svg", "svg")):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=env if chosen is None else {**env, "MPLBACKEND": chosen})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == expected


def test_figures_from_fixture_records(tmp_path):
  rows = [{"step": s, "batch_loss": 2.3 - s / 100, "test_accuracy": 0.1 + s / 1000} for s in (10, 20, 30)]
  rows.append({"step": 100, "batch_loss": 1.3})  # the summaries' last step
  _fixture_sweep(tmp_path / "fig1a", [(k, {"kind": k}, _summary(1.0, 0.1), rows)
                                      for k in ("true_labels", "random_labels", "gaussian")], "figure1a")
  _fixture_sweep(tmp_path / "fig1bc", [(f"p{p}", {"p": p}, _summary(1.0, 0.5 - p / 3, fit={"step": int(100 + 200 * p)}),
                                        rows) for p in (0.0, 0.5, 1.0)], "figure1bc")
  _fixture_sweep(tmp_path / "fig2b", [("inception_small", {"model": "inception_small"}, _summary(1.0, 0.8), rows)], "figure2b")
  written = report.build_all(tmp_path)
  names = sorted(p.name for p in written)
  assert names == ["figure1a.md", "figure1a.png", "figure1b.png", "figure1bc.md", "figure1c.png", "figure2b.md",
                   "figure2b.png"]
  for p in written:
    if p.suffix == ".png":
      assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
  table = (tmp_path / "fig1bc" / "figure1bc.md").read_text()
  assert "| 0.50 | 200 | 2.00 | 100.00 | 66.67 |" in table
  fig1a = (tmp_path / "fig1a" / "figure1a.md").read_text()
  assert "| true labels | 100 (epoch 10) | 100.00 | 10.00 | not reached | 60.0 s |" in fig1a
  assert fig1a.index("| true labels") < fig1a.index("| Gaussian") < fig1a.index("| random labels")  # the paper's order
  fig2b = (tmp_path / "fig2b" / "figure2b.md").read_text()
  assert "| inception_small | 100 | 100.00 | 80.00 | 13.00 | 30 | -67.00 |" in fig2b


def test_report_dispatches_on_the_recorded_artifact_and_names_bad_files(tmp_path):
  rows = [{"step": s, "batch_loss": 2.3 - s / 100, "test_accuracy": 0.5} for s in (10, 20)]
  # metadata that looks like Figure 1a's, recorded as Figure 2b: the record decides, not the keys
  _fixture_sweep(tmp_path / "a", [("true_labels", {"kind": "true_labels", "model": "m"}, _summary(1.0, 0.8, step=20),
                                   rows)],
                 "figure2b")
  assert [p.name for p in report.build(tmp_path / "a")] == ["figure2b.png", "figure2b.md"]
  (tmp_path / "old").mkdir()
  records.write_json(tmp_path / "old" / "sweep.json", {"x": {"config": {}, "meta": {"kind": "gaussian"}}})  # no artifact
  with pytest.raises(records.RecordError, match=r"old/sweep.json does not name a paper artifact"):
    report.build(tmp_path / "old")
  (tmp_path / "a" / "true_labels" / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "batch_lo\n{"step": 3}\n')
  with pytest.raises(records.RecordError, match=r"true_labels/metrics.jsonl, line 2"):
    report.build(tmp_path / "a")


def test_a_report_of_another_artifact_or_a_path_of_another_kind_is_one_clear_error(tmp_path):
  _fixture_sweep(tmp_path / "fig2b", [("m", {"model": "m"}, _summary(1.0, 0.8), [{"step": 100}])], "figure2b")
  with pytest.raises(records.RecordError, match=r"table1: .*fig2b/sweep.json names the artifact 'figure2b'; table1 "
                                                r"reports only 'table1' sweeps"):
    report.table1(tmp_path / "fig2b")  # a KeyError on the run metadata before
  with pytest.raises(records.RecordError, match="figure1a: .* names the artifact 'figure2b'"):
    report.figure1a(tmp_path / "fig2b")  # an empty figure1a.png before
  assert not (tmp_path / "fig2b" / "figure1a.png").exists()
  with pytest.raises(records.RecordError, match="memorization_scores: .* names the artifact 'figure2b'"):
    report.memorization_scores(tmp_path / "fig2b")
  with pytest.raises(records.RecordError, match=r"summary.json/sweep.json does not exist"):
    report.build(tmp_path / "fig2b" / "m" / "summary.json")  # a file for a directory: NotADirectoryError before
  with pytest.raises(records.RecordError, match="build_all: .*mistyped does not exist"):
    report.build_all(tmp_path / "mistyped")  # [] before: nothing to report


def test_a_swapped_run_directory_or_a_bad_summary_is_refused_before_anything_is_written(tmp_path):
  rows = [{"step": s, "batch_loss": 2.3 - s / 100, "test_accuracy": 0.5} for s in (10, 20)]
  runs = [(k, {"kind": k}, _summary(1.0, 0.5, step=20), rows) for k in ("true_labels", "random_labels")]
  _fixture_sweep(tmp_path, runs, "figure1a", config={"model": "mlp_1x512", "seed": 0})
  saved = records.read_json(tmp_path / "true_labels" / "config.json")

  def record_config(model):
    records.write_json(tmp_path / "true_labels" / "config.json", {**saved, "config": {"model": model, "seed": 0}})

  record_config("mlp_1x512")
  assert report.build(tmp_path)  # the run's own directory: reported
  for produced in ("figure1a.png", "figure1a.md"):
    (tmp_path / produced).unlink()
  # another run's directory in its place: refused, naming what differs
  record_config("alexnet_small")
  with pytest.raises(records.RecordError, match=r"true_labels does not hold run 'true_labels' of .*sweep.json "
                                                r"\(model: 'alexnet_small' \(saved\) vs 'mlp_1x512' \(now\)\)"):
    report.build(tmp_path)
  record_config("mlp_1x512")
  for key, value, message in (("test_accuracy", "high", "not an accuracy"), ("train_accuracy", float("nan"),
                                                                           "not an accuracy"),
                              ("step", 2.5, "not a step"), ("train_seconds", None, "not a number"),
                              ("time_to_fit", {"epoch": 2}, "neither null nor a")):
    records.write_json(tmp_path / "random_labels" / "summary.json", {**_summary(1.0, 0.5, step=20), key: value})
    with pytest.raises(records.RecordError, match=f"random_labels/summary.json: {key} = .*, {message}"):
      report.build(tmp_path)
  assert not any(p.name.startswith("figure1a") for p in tmp_path.iterdir())  # nothing written before the error
  records.write_json(tmp_path / "random_labels" / "summary.json", _summary(1.0, 0.5, step=20))
  spec = records.read_json(tmp_path / "sweep.json")
  spec["runs"]["random_labels"]["dir"] = "../elsewhere"
  records.write_json(tmp_path / "sweep.json", spec)
  with pytest.raises(records.RecordError, match=r"has dir '../elsewhere'; a run's directory is a name inside"):
    report.build(tmp_path)
  spec["runs"]["random_labels"] = "random_labels"
  records.write_json(tmp_path / "sweep.json", spec)
  with pytest.raises(records.RecordError, match=r"run 'random_labels' is not an entry with a config and meta"):
    report.build(tmp_path)


def test_a_metrics_file_that_is_not_text_is_named(tmp_path):
  (tmp_path / "metrics.jsonl").write_bytes(b'{"step": 1}\n\xff\xfe\x00garbage\n')
  with pytest.raises(records.RecordError, match=r"metrics.jsonl is not text"):
    records.read_jsonl(tmp_path / "metrics.jsonl")


def test_reading_records_does_not_import_the_training_engine():
  code = ("import sys, rethink_jax.report, rethink_jax.records; "
          "print(sorted(m for m in sys.modules if m.split('.')[-1] in ('train', 'loop', 'multirun', 'imagenet', "
          "'checkpoint') and m.startswith('rethink_jax')))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip() == "[]"


def _report_cli(*args):
  return subprocess.run([sys.executable, "-m", "rethink_jax.report", *map(str, args)], capture_output=True, text=True,
                        timeout=120)


def _fixture_run(run_dir):
  run_dir.mkdir(parents=True)
  rows = [{"step": s, "epoch": s / 10, "batch_loss": 2.3 - s / 50} for s in range(5, 65, 5)]
  for r in rows:
    if r["step"] % 20 == 0:
      r.update(train_accuracy=min(1.0, r["step"] / 60), test_accuracy=0.1, train_loss=2.3 - r["step"] / 40,
               test_loss=2.4 + r["step"] / 100)
  records.write_jsonl(run_dir / "metrics.jsonl", rows)
  records.write_json(run_dir / "config.json", {
      "config": {"model": "mlp_1x512"}, "dataset": "rethink_jax embedded cifar10 sample (lossless)",
      "corruption": {"kind": "random_labels", "p": None},
      "environment": {"device_count": 1, "device_kinds": ["cpu"], "backend": "cpu", "versions": {"jax": "0.10.2"}}})
  records.write_json(run_dir / "summary.json", {
      **_summary(1.0, 0.1, step=60, fit={"step": 60, "epoch": 6.0, "seconds": 3.0}),
      "epoch": 6.0, "fit_metric": "train_accuracy", "fit_threshold": 1.0, "num_params": 1209866,
      "model": "mlp_1x512", "dataset": "rethink_jax embedded cifar10 sample (lossless) | corrupted: random_labels"})


def test_report_cli_single_run_gets_curves_and_a_summary(tmp_path):
  _fixture_run(tmp_path / "runs" / "random_labels" / "run-a")
  out = _report_cli(tmp_path / "runs")
  assert out.returncode == 0, out.stderr
  run_dir = tmp_path / "runs" / "random_labels" / "run-a"
  assert out.stdout.split() == ["wrote", str(run_dir / "curves.png"), "wrote", str(run_dir / "summary.md")]
  assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  text = (run_dir / "summary.md").read_text()
  assert "mlp_1x512, CIFAR-10 embedded sample, random labels." in text
  assert "| train accuracy | 100.00 % |" in text and "| time to fit (train_accuracy >= 1) | step 60 (epoch 6.0) |" in text


def test_report_cli_says_what_is_wrong_in_one_line(tmp_path):
  missing = _report_cli(tmp_path / "nonexistent")
  assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'nonexistent'} does not exist."
  (tmp_path / "empty").mkdir()
  empty = _report_cli(tmp_path / "empty")
  assert empty.returncode == 2 and "holds no run record" in empty.stderr and len(empty.stderr.splitlines()) == 1
  _fixture_run(tmp_path / "bad")
  (tmp_path / "bad" / "summary.json").write_text('{"step": 6')
  corrupt = _report_cli(tmp_path / "bad")
  assert corrupt.returncode == 2 and f"{tmp_path / 'bad' / 'summary.json'} is not valid JSON" in corrupt.stderr
  assert "Traceback" not in missing.stderr + empty.stderr + corrupt.stderr
  helped = _report_cli("--help")
  assert helped.returncode == 0 and "PATH" in helped.stdout and "python -m rethink_jax.report results/" in helped.stdout


def test_script_results_renders_min_norm_and_theorem1_tables_and_names_bad_records(tmp_path):
  env = {"device_count": 1, "device_kinds": ["cpu"], "backend": "cpu", "versions": {"jax": "0.10.2"}}
  for folder in ("mnist", "t1", "old", "short"):
    (tmp_path / folder).mkdir()
  row = {"features": "raw pixels", "bandwidth": 5.0, "test_error": 0.05, "train_error": 0.0, "norm": 43.44,
         "residual": 2e-14, "solver": "cholesky", "iterations": 1, "seconds": 4.26, "peak_rss_gb": 0.81}
  records.write_json(tmp_path / "mnist" / "results.json", {"script": "minnorm_mnist", "dataset": "mnist sample",
                                                           "n_train": 5000, "results": [row], "environment": env})
  text = report.script_results(tmp_path / "mnist").read_text()
  assert "| raw pixels | 5 | 5.00% | 1.2% | 0.00% | 43.4 | 2.0e-14 | cholesky (1 refinement steps) | 4.3 s | 0.8 GB |" in text
  assert "Data: mnist sample; 5,000 train. Devices: 1 x cpu (cpu), jax 0.10.2." in text
  t1 = {"n": 1000, "params": 14072, "params_scalar_2n_plus_d": 5072, "max_residual": 6.2e-9, "train_accuracy": 1.0,
        "test_accuracy": 0.0993, "min_gap": 1.1e-7, "range": 1.0, "seconds": 0.7}
  records.write_json(tmp_path / "t1" / "results.json", {
      "script": "theorem1", "dataset": "cifar10", "theorem1": [t1],
      "rademacher": {"linear": {"estimate": 0.1744, "stderr": 0.008, "values": [0.17]}}, "environment": env})
  text = report.script_results(tmp_path / "t1").read_text()
  assert "| 1,000 | 14,072 | 5,072 | 6.2e-09 | 100.00% | 9.93% | 1.1e-07 | 0.7 |" in text
  assert "| linear | 0.174 ± 0.008 |" in text
  records.write_json(tmp_path / "old" / "results.json", {"dataset": "x", "results": []})
  with pytest.raises(records.RecordError, match="names no script"):
    report.script_results(tmp_path / "old")
  records.write_json(tmp_path / "short" / "results.json", {"script": "minnorm_cifar", "dataset": "x",
                                                           "results": [{"method": "Gaussian kernel on pixels"}]})
  with pytest.raises(records.RecordError, match="lacks an entry"):
    report.script_results(tmp_path / "short")


def test_every_result_script_has_a_table_that_declares_the_fields_it_reads():
  from rethink_jax.report import results

  assert set(results.TABLES) == set(records.RESULT_SCRIPTS)
  for script, (title, table) in results.TABLES.items():
    assert title and "Reads ``" in (table.__doc__ or ""), f"{script}: its table names no field of its results.json"


def test_results_record_the_environment_a_script_started_with(tmp_path):
  """A run of hours records the checkout it started from, not the one it ends in."""
  import ml_collections

  config = ml_collections.ConfigDict({"num_filters": 8})
  started = dict(records.environment(), git="0123456789abcdef")  # as if the checkout moved on since
  for name in "ab":
    (tmp_path / name).mkdir()
  path = records.write_results(tmp_path / "a", config, "data", script="minnorm_cifar", env=started, results=[])
  assert records.read_json(path)["environment"] == started
  path = records.write_results(tmp_path / "b", config, "data", script="minnorm_cifar", results=[])
  now = records.read_json(path)["environment"]
  assert now["git"] == records.git_hash() and now["git"] != started["git"]
  with pytest.raises(ValueError, match="Unknown results script"):
    records.write_results(tmp_path / "c", config, "data", script="minnorm", env=started)


def test_a_sweep_with_missing_or_unfinished_runs_is_named_and_fails_unless_partial(tmp_path):
  rows = [{"step": s, "batch_loss": 2.3 - s / 100, "test_accuracy": 0.1 + s / 1000} for s in (10, 20, 30)]
  _fixture_sweep(tmp_path / "fig1a", [(k, {"kind": k}, _summary(1.0, 0.1, step=30), rows)
                                      for k in ("true_labels", "random_labels", "gaussian")], "figure1a")
  import shutil
  shutil.rmtree(tmp_path / "fig1a" / "gaussian")                     # never started
  (tmp_path / "fig1a" / "random_labels" / "summary.json").unlink()   # still running
  out = _report_cli(tmp_path / "fig1a")
  assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
  assert "is incomplete: gaussian missing (no run directory); random_labels unfinished (metrics up to step 30, no " \
         "summary). Pass --partial" in out.stderr
  assert not (tmp_path / "fig1a" / "figure1a.md").exists()
  partial = _report_cli(tmp_path / "fig1a", "--partial")
  assert partial.returncode == 0, partial.stderr
  table = (tmp_path / "fig1a" / "figure1a.md").read_text()
  assert "**Incomplete sweep**: `gaussian` missing (no run directory); `random_labels` unfinished (metrics up to " \
         "step 30, no summary)." in table


@pytest.mark.parametrize("metrics,warning", [
    ("", "holds no metrics row"),
    ('{"step": 0, "train_accuracy": 0.1}\n{"step": 30, "train_accur', "ends in a cut line"),
    ('{"step": 0, "train_accuracy": 0.1}\n{"step": 30, "train_accuracy": 0.5}\n', "ends at step 30 but summary.json "
                                                                                  "names step 60"),
])
def test_a_single_run_with_truncated_metrics_is_reported_with_a_warning(tmp_path, metrics, warning):
  _fixture_run(tmp_path / "run")
  (tmp_path / "run" / "metrics.jsonl").write_text(metrics)
  out = _report_cli(tmp_path / "run")
  assert out.returncode == 0, out.stderr
  assert out.stderr.startswith(f"warning: {tmp_path / 'run' / 'metrics.jsonl'} ") and warning in out.stderr


def test_examples_records_with_arrays_of_the_wrong_shape_dtype_or_order_are_refused(tmp_path):
  import numpy as np

  t, n = 3, 5
  good = {"eval_steps": np.arange(t), "eval_epochs": np.arange(t) / 2.0, "correct": np.zeros((t, n), bool),
          "pred_is_clean_label": np.zeros((t, n), bool), "margin": np.zeros((t, n), np.float16),
          "corrupted": np.zeros(n, bool), "labels": np.zeros(n, np.int32), "clean_labels": np.zeros(n, np.int32)}
  np.savez(tmp_path / "good.npz", **good)
  assert records.read_examples(tmp_path / "good.npz")["labels"].shape == (n,)
  for key, bad in (("labels", np.zeros(n + 1, np.int32)), ("clean_labels", np.zeros(n - 1, np.int32)),
                   ("eval_epochs", np.arange(t + 1) / 2.0)):
    np.savez(tmp_path / f"{key}.npz", **{**good, key: bad})
    with pytest.raises(records.RecordError, match=f"{key} has shape"):
      records.read_examples(tmp_path / f"{key}.npz")
  for key, bad, message in (("correct", np.full((t, n), 0.5), "correct has dtype float64, expected bool"),
                            ("labels", np.array(list("abcde")), "labels has dtype <U1, expected integers"),
                            ("eval_steps", np.array([0, 2, 1]), "eval_steps must be increasing"),
                            ("labels", np.array([0, 1, -1, 2, 3]), "labels holds negative classes")):
    np.savez(tmp_path / "bad.npz", **{**good, key: bad})
    with pytest.raises(records.RecordError, match=message):
      records.read_examples(tmp_path / "bad.npz")
