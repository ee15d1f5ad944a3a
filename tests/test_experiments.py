"""One short end-to-end run of every experiment script on the embedded sample."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from rethink_jax import records

REPO = pathlib.Path(__file__).resolve().parents[1]
FAST = ["--config.num_epochs=1", "--config.eval_every_steps=15", "--config.log_every_steps=5"]
FAST_SWEEP = ["--config.num_epochs=0.4", "--config.eval_every_steps=3", "--config.log_every_steps=3"]


def _run(script, tmp_path, *args):
  out = subprocess.run([sys.executable, str(REPO / "experiments" / script), "--workdir", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
  assert out.returncode == 0, out.stderr[-4000:]
  return out.stdout


@pytest.mark.parametrize("script", ["random_labels.py", "shuffled_pixels.py", "random_pixels.py", "gaussian.py"])
def test_single_run_scripts(tmp_path, script):
  stdout = _run(script, tmp_path, *FAST)
  assert "train accuracy" in stdout and "time to fit" in stdout
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["corruption"]["kind"] == script[:-3] and summary["step"] == 15
  assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "config.json").exists()


def test_fitting_curves(tmp_path):
  _run("fitting_curves.py", tmp_path, *FAST_SWEEP)
  assert (tmp_path / "figure1a.png").exists()
  runs = records.read_sweep(tmp_path)[1]
  assert sorted(runs) == sorted(["true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian"])
  # each run's directory is its name and identity hash, like a single run's
  assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
      f"{name}-{records.identity_hash(run['config'])}" for name, run in runs.items())


def test_label_corruption_and_resume_skips_finished_runs(tmp_path):
  args = [*FAST_SWEEP, "--config.sweep.levels=(0.0,0.5,1.0)", "--config.stop_at_fit=False"]
  _run("label_corruption.py", tmp_path, *args)
  for name in ("figure1b.png", "figure1c.png", "figure1bc.md"):
    assert (tmp_path / name).exists()
  again = _run("label_corruption.py", tmp_path, *args)
  assert again.count("finished earlier: skipped") == 3


def test_table1_and_appendix(tmp_path):
  _run("table1.py", tmp_path / "t1", *FAST_SWEEP, "--config.sweep.random_label_epochs=0.4", "--config.model=mlp_1x512")
  text = (tmp_path / "t1" / "table1.md").read_text()
  assert text.count("| mlp_1x512") == 3 and "50.51" in text  # paper column beside ours
  assert "\nMade by:\n\n    " in text and "experiments/table1.py" in text.split("Made by:")[1]  # how the rows were made
  _run("table1.py", tmp_path / "app", "--config", str(REPO / "rethink_jax/configs/table1.py") + ":appendix_cpu",
       *FAST_SWEEP, "--config.sweep.random_label_epochs=0.2", "--config.model=mlp_1x512")
  assert "weight decay" in (tmp_path / "app" / "appendix.md").read_text()


def test_implicit_regularization(tmp_path):
  # The script's sweep, report and figure with two cheap models: the Inception variants it
  # trains by default compile for a minute each, and are trained in tests/test_train.py.
  _run("implicit_regularization.py", tmp_path, "--config.num_epochs=1", "--config.data.max_train=64",
       "--config.data.max_test=32", "--config.batch_size=32", "--config.eval_every_steps=1",
       "--config.sweep.models=('mlp_1x512','mlp_3x512')")
  assert (tmp_path / "figure2b.png").stat().st_size > 10_000
  table = (tmp_path / "figure2b.md").read_text()
  assert "| mlp_1x512 | 2 |" in table and "| mlp_3x512 | 2 |" in table


def test_memorization_sweep_records_examples_and_reports(tmp_path):
  _run("memorization.py", tmp_path, *FAST_SWEEP, "--config.model=mlp_1x512", "--config.sweep.levels=(0.5,)")
  runs = records.read_sweep(tmp_path)[1]
  assert sorted(runs) == ["mlp_1x512-p0.50", "mlp_1x512-random_labels"]
  assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
      ["_vmapped"] + [pathlib.Path(run["dir"]).name for run in runs.values()])
  for run in runs.values():
    with np.load(pathlib.Path(run["dir"]) / "examples.npz") as ex:
      assert ex["correct"].shape == (len(ex["eval_steps"]), 2000) and ex["corrupted"].any()
  table = (tmp_path / "memorization.md").read_text()
  assert table.count("| mlp_1x512 |") == 2 and "| random |" in table
  assert (tmp_path / "memorization-mlp_1x512.png").stat().st_size > 10_000
