"""Process segments: every process that trained a run is in its record (docs/training.md, long runs)."""

import json

import pytest

from rethink_jax import records, report, segments, train

from test_train import small_config


def test_a_resume_under_other_code_is_recorded_and_announced(tmp_path, monkeypatch, capsys):
  workdir = tmp_path / "run"
  first = train.train_and_evaluate(small_config(num_epochs=0.5, **{"data.max_train": 256}), workdir)
  monkeypatch.setattr(records, "git_hash", lambda: "0123abcd+dirty")
  second = train.train_and_evaluate(small_config(num_epochs=1.0, **{"data.max_train": 256}), workdir)

  segs = segments.read_segments(workdir)
  assert [(s["first_step"], s["last_step"], s["end"]) for s in segs] == [(0, 2, "finished"), (2, 4, "finished")]
  assert segs[1]["git"] == "0123abcd+dirty" != segs[0]["git"]
  assert first["segments"] == 1 and second["segments"] == 2 and second["git"] == [segs[0]["git"], "0123abcd+dirty"]
  assert second["train_seconds"] == pytest.approx(segs[0]["train_seconds"] + segs[1]["train_seconds"], rel=1e-9)
  assert second["train_seconds"] > first["train_seconds"] == pytest.approx(segs[0]["train_seconds"], rel=1e-9)
  err = capsys.readouterr().err
  assert "resuming at step 2 under git 0123abcd+dirty; the previous segment ran git" in err
  report.single_run(workdir)
  text = (workdir / "summary.md").read_text()
  assert "Trained by 2 process segments (segments.json):" in text
  assert "- segment 1: steps 2-4" in text and "git 0123abcd+dirty, finished" in text


def test_a_kill_between_checkpoint_and_record_is_corrected_from_the_checkpoint(tmp_path):
  segs = segments.RunSegments(tmp_path, 0, 0.0)
  segs.checkpointed(20, 12.0)   # then the process trains on, checkpoints step 40 and dies before recording it
  resumed = segments.RunSegments(tmp_path, 40, 25.0)
  saved = segments.read_segments(tmp_path)
  assert [(s["first_step"], s["last_step"], s["end"]) for s in saved] == [(0, 40, "killed"), (40, 40, None)]
  assert saved[0]["train_seconds"] == 25.0
  resumed.checkpointed(60, 31.5)
  assert resumed.total_train_seconds == pytest.approx(31.5)
  assert segments.read_segments(tmp_path)[-1]["peak_rss_gb"] == pytest.approx(records.peak_rss_gb(), rel=0.05)
  assert "peak RSS" in segments.describe(segments.read_segments(tmp_path)).splitlines()[-1]
  assert resumed.code_change() is None  # same code


def test_a_run_directory_from_before_segments_gets_a_reconstructed_first_entry(tmp_path):
  records.write_json(tmp_path / records.CONFIG, {"config": {}, "environment": {"git": "feedbeef", "backend": "cpu",
                                                                               "versions": {"jax": "0.4.0"}}})
  segments.RunSegments(tmp_path, 300, 90.0)
  first, now = segments.read_segments(tmp_path)
  assert first["reconstructed"] and (first["first_step"], first["last_step"], first["git"]) == (0, 300, "feedbeef")
  assert first["train_seconds"] == 90.0 and first["jax"] == "0.4.0" and first["host"] is None
  assert now["first_step"] == 300 and now["git"] == records.git_hash()
  assert "(reconstructed)" in segments.describe([first])


def test_a_fresh_start_forgets_an_old_record_and_a_corrupt_one_is_named(tmp_path):
  (tmp_path / records.SEGMENTS).write_text(json.dumps({"segments": [{"first_step": 0}]}))
  segments.RunSegments(tmp_path, 0, 0.0)  # started over from step 0: the old entries describe nothing kept
  assert len(segments.read_segments(tmp_path)) == 1
  (tmp_path / records.SEGMENTS).write_text('{"segments": [')
  with pytest.raises(records.RecordError, match="segments.json is not valid JSON"):
    segments.read_segments(tmp_path)
  (tmp_path / records.SEGMENTS).write_text('[1, 2]')
  with pytest.raises(records.RecordError, match="not a segments record"):
    segments.RunSegments(tmp_path, 10, 1.0)


def test_each_segment_records_the_command_line_that_started_its_process(tmp_path, monkeypatch):
  (tmp_path / "script").mkdir()
  (tmp_path / "module").mkdir()
  monkeypatch.setattr("sys.argv", ["experiments/table1.py", "--config.sweep.rows=('random_labels',)", "--only", "a b"])
  segments.RunSegments(tmp_path / "script", 0, 0.0)
  (saved,) = segments.read_segments(tmp_path / "script")
  assert saved["command"] == "experiments/table1.py '--config.sweep.rows=('\"'\"'random_labels'\"'\"',)' --only 'a b'"
  monkeypatch.setattr("sys.argv", ["/site-packages/rethink_jax/__main__.py", "table1", "--dry_run"])
  segments.RunSegments(tmp_path / "module", 0, 0.0)
  assert segments.read_segments(tmp_path / "module")[0]["command"] == "python -m rethink_jax table1 --dry_run"
