"""Run records that collaborators can read, and a full disk that costs one line and no checkpoint."""

import os
import shutil
import subprocess
import sys
import types

import pytest

from rethink_jax import loop, records, train
from rethink_jax.configs import common

from test_train import REPO, _env, small_config


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_records_get_the_process_umask(tmp_path, umask, mode):
  old = os.umask(umask)
  try:
    train.train_and_evaluate(small_config(num_epochs=0.25, **{"data.max_train": 256}), tmp_path / "run")
  finally:
    os.umask(old)
  for name in ("config.json", "metrics.jsonl", "summary.json", "segments.json", ".owner"):
    assert (tmp_path / "run" / name).stat().st_mode & 0o777 == mode, name


def test_too_little_space_for_a_checkpoint_refuses_before_writing_it(tmp_path, monkeypatch):
  config = small_config(num_epochs=1.0, checkpoint_every_steps=10, **{"data.max_train": 640})
  train.train_and_evaluate(common.override(config, num_epochs=0.5), tmp_path / "run")  # checkpoint 5 written
  free = shutil.disk_usage(tmp_path).free
  monkeypatch.setattr(loop.shutil, "disk_usage", lambda p: types.SimpleNamespace(total=free, used=free, free=1000))
  with pytest.raises(records.RunDirError, match=r"No space for checkpoint 10 in .*: 1,000 bytes free, it needs about "
                                                r"[\d,]+ bytes; checkpoint 5 is kept whole\. Free some space and run "
                                                r"the same command to resume\.$"):
    train.train_and_evaluate(config, tmp_path / "run")
  monkeypatch.undo()
  summary = train.train_and_evaluate(config, tmp_path / "run")  # resumes from 5 once there is room
  assert summary["step"] == 10 and summary["segments"] == 3


def test_a_full_disk_at_the_command_line_is_one_line_and_keeps_the_last_checkpoint(tmp_path):
  disk = tmp_path / "disk"
  disk.mkdir()
  # A real full disk: a 16 MB tmpfs holds one checkpoint of MLP 1x512 (about 10 MB), not two.
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()[:80]})")
  try:
    out = subprocess.run([sys.executable, str(REPO / "experiments" / "random_labels.py"), "--workdir", str(disk / "run"),
                          "--config.checkpoint_every_steps=30", "--config.num_epochs=4"],
                         capture_output=True, text=True, timeout=300, env=_env())
    assert out.returncode == 2, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()  # the progress lines of the evaluations, then one error line
    line = lines[-1]
    assert "Traceback" not in out.stderr and all(l.startswith("run: step") for l in lines[:-1]), out.stderr[-3000:]
    assert line.startswith(f"error: No space for checkpoint 60 in {disk / 'run' / 'checkpoints'}: ")
    assert "checkpoint 30 is kept whole" in line
    state = train.restore_state(disk / "run")
    assert int(state.step) == 30
    segs = records.read_json(disk / "run" / "segments.json")["segments"]
    assert segs[-1]["last_step"] == 30 and segs[-1]["end"] == "error: RunDirError"
    assert segs[-1]["command"].endswith("experiments/random_labels.py --workdir " + str(disk / "run")
                                        + " --config.checkpoint_every_steps=30 --config.num_epochs=4")
  finally:
    subprocess.run(["umount", str(disk)], capture_output=True)


def test_sweep_run_directories_carry_the_identity_hash_and_older_ones_keep_their_names(tmp_path):
  from rethink_jax import sweep

  base = small_config(num_epochs=0.25, **{"data.max_train": 256})
  runs = lambda lr: sweep.SweepRuns("figure1a", {"true_labels": (common.override(base, **{"optim.lr": lr}),
                                                                 {"kind": "true_labels"})})
  first = sweep.run_sweep(runs(0.01), tmp_path / "s")["true_labels"]
  # Another learning rate is another run: a directory of its own, where it used to be refused.
  second = sweep.run_sweep(runs(0.02), tmp_path / "s")["true_labels"]
  dirs = sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir())
  hashes = [records.identity_hash(common.override(base, **{"optim.lr": lr})) for lr in (0.01, 0.02)]
  assert dirs == sorted(f"true_labels-{h}" for h in hashes) and first != second
  assert records.read_sweep(tmp_path / "s")[1]["true_labels"]["dir"] == str(tmp_path / "s" / f"true_labels-{hashes[1]}")
  # A sweep directory from before: its run directory, named without the hash, is found and kept.
  train.train_and_evaluate(common.override(base, **{"optim.lr": 0.01}), tmp_path / "old" / "true_labels")
  assert sweep.run_sweep(runs(0.01), tmp_path / "old")["true_labels"]["step"] == 1
  assert sorted(p.name for p in (tmp_path / "old").iterdir() if p.is_dir()) == ["true_labels"]
  assert records.read_sweep(tmp_path / "old")[1]["true_labels"]["summary"]["segments"] == 1  # not trained again


def test_a_sweep_reuses_the_finished_runs_of_another_that_compute_the_same_thing(tmp_path):
  from rethink_jax import sweep

  base = small_config(num_epochs=0.25, **{"data.max_train": 256})
  random = common.override(base, **{"corruption.kind": "random_labels"})
  table = sweep.SweepRuns("table1", {"m-random_labels": (random, {"model": "m", "random_crop": False,
                                                                  "weight_decay": False, "random_labels": True})})
  done = sweep.run_sweep(table, tmp_path / "table1")["m-random_labels"]
  trained = []

  def train_fn(cfg, workdir):
    trained.append(cfg.corruption.kind)
    return train.train_and_evaluate(cfg, workdir)

  # Figure 1a's random-labels run evaluates more often (how, not what): it is Table 1's run, taken as it is.
  figure = sweep.SweepRuns("figure1a", {
      kind: (common.override(base, **{"corruption.kind": kind, "eval_every_steps": 1}), {"kind": kind})
      for kind in ("random_labels", "gaussian")})
  with pytest.raises(records.RecordError, match="no sweep.json there"):
    sweep.run_sweep(figure, tmp_path / "fig", reuse=[tmp_path / "nowhere"], train_fn=train_fn)
  assert not (tmp_path / "fig").exists() and not trained  # refused before anything was written
  out = sweep.run_sweep(figure, tmp_path / "fig", reuse=[tmp_path / "table1"], train_fn=train_fn)
  assert trained == ["gaussian"] and out["random_labels"] == done
  _, runs = records.read_sweep(tmp_path / "fig")
  source = records.read_sweep(tmp_path / "table1")[1]["m-random_labels"]
  assert runs["random_labels"]["metrics"] == source["metrics"] and runs["random_labels"]["summary"] == done
  assert records.read_json(tmp_path / "fig" / "sweep.json")["runs"]["random_labels"]["reused_from"] == source["dir"]
  reused = tmp_path / "fig" / records.read_json(tmp_path / "fig" / "sweep.json")["runs"]["random_labels"]["dir"]
  assert not (reused / records.CHECKPOINTS).exists() and (reused / "segments.json").exists()
  # A run that differs in what it computes is never taken: the Gaussian run of another sweep is not the true labels'.
  assert sweep.find_reusable(common.override(base, **{"corruption.kind": "true_labels"}), [tmp_path / "fig"]) is None
  # Run again: everything is finished, nothing trains.
  sweep.run_sweep(figure, tmp_path / "fig", reuse=[tmp_path / "table1"], train_fn=train_fn)
  assert trained == ["gaussian"]


def test_table1_rows_run_one_command_at_a_time_make_one_table(tmp_path):
  from rethink_jax import report, sweep
  from rethink_jax.configs import table1

  c = common.override(table1.get_config("cpu"), model="mlp_1x512", num_epochs=0.25,
                      **{"data.max_train": 256, "sweep.random_label_epochs": 0.25})
  rows = lambda *names: table1.build_runs(common.override(c, **{"sweep.rows": names}))
  assert rows("random_labels").merge  # Table 1 grows row by row in its directory
  sweep.run_sweep(rows("random_labels"), tmp_path)
  sweep.run_sweep(rows("crop0-wd0"), tmp_path)  # the headline row first, the others later: all kept
  _, runs = records.read_sweep(tmp_path)
  assert sorted(runs) == ["mlp_1x512-crop0-wd0", "mlp_1x512-random_labels"]
  assert all(r["summary"] for r in runs.values())
  text = report.table1(tmp_path).read_text()
  assert "| mlp_1x512 | no | no |" in text and "| mlp_1x512 (random labels) | no | no |" in text
  # a sweep that is not a table of independent rows is replaced as before: Figure 1a's kinds are its own
  assert not sweep.SweepRuns("figure1a", {}).merge
  # a dry run with --reuse names the runs it would take instead of training them, and checks the directory
  base = [sys.executable, str(REPO / "experiments" / "table1.py"), "--config.model=mlp_1x512",
          "--config.num_epochs=0.25", "--config.data.max_train=256", "--config.sweep.random_label_epochs=0.25",
          "--config.sweep.rows=('random_labels','crop0-wd1')", "--workdir", str(tmp_path / "other"), "--dry_run"]
  dry = subprocess.run([*base, "--reuse", str(tmp_path)], capture_output=True, text=True, timeout=120)
  assert dry.returncode == 0, dry.stderr[-2000:]
  lines = {line.split()[0].split("/")[-1].rsplit("-", 1)[0]: line for line in dry.stdout.splitlines()
           if str(tmp_path / "other") + "/" in line}
  assert lines["mlp_1x512-random_labels"].endswith(f"(taken from {runs['mlp_1x512-random_labels']['dir']})")
  assert "taken from" not in lines["mlp_1x512-crop0-wd1"]
  bad = subprocess.run([*base, "--reuse", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and bad.stderr.strip() == (f"error: --reuse {tmp_path / 'nowhere'}: no sweep.json there; "
                                                         "it must be a sweep directory.")
  assert not (tmp_path / "other").exists()
