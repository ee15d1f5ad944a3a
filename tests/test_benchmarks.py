"""The benchmarks run, check their arguments, and write records the report renders."""

import pathlib
import statistics
import subprocess
import sys

from rethink_jax import records, report

REPO = pathlib.Path(__file__).resolve().parents[1]


def _bench(script, *args, cwd):
  return subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{script}.py"), *args], capture_output=True,
                        text=True, timeout=600, cwd=cwd)


def test_train_throughput_records_every_repetition_and_the_report_renders_them(tmp_path):
  out = _bench("train_throughput", "--models", "mlp_1x512", "--steps", "3", "--repeats", "2", "--no-torch",
               "--out", str(tmp_path / "tt"), cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "tt" / records.RESULTS)
  assert saved["script"] == "train_throughput" and saved["torch"] is None
  (row,) = saved["rows"]
  assert row["model"] == "mlp_1x512" and row["params"] == 1_209_866 and "ratio" not in row
  timed = row["images_per_s"]["jax"]
  assert len(timed) == 2 and all(x > 0 for x in timed)
  text = report.script_results(tmp_path / "tt").read_text()
  assert text.startswith("# Train-step throughput, JAX and PyTorch\n")
  mean_sd = f"{statistics.mean(timed):,.1f} ± {statistics.stdev(timed):,.1f}"
  assert f"| mlp_1x512 | 1,209,866 | {mean_sd} | — | — | — | — |" in text
  assert "over 2 repetitions" in text and "PyTorch not installed" in text


def test_vmapped_sweep_records_its_wall_times(tmp_path):
  out = _bench("vmapped_sweep", "--levels", "2", "--epochs", "0.2", "--repeats", "1", "--out", str(tmp_path / "vs"),
               cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "vs" / records.RESULTS)
  assert saved["script"] == "vmapped_sweep" and saved["runs"] == 2 and saved["steps"] > 0
  assert all(len(w) == 1 and w[0] > 0 for w in saved["wall_seconds"].values())
  text = report.script_results(tmp_path / "vs").read_text()
  assert "| 2 sequential runs |" in text and "| one vmapped program |" in text and "| speedup | **" in text


def test_benchmark_arguments_are_checked_before_any_work(tmp_path):
  (tmp_path / "file").write_text("")
  for script, args, message in (
      ("train_throughput", ("--models", "mlp_2x512"), "unknown 'mlp_2x512'"),
      ("train_throughput", ("--repeats", "0"), "must be positive"),
      ("train_throughput", ("--out", "file"), "exists and is not a directory"),
      ("vmapped_sweep", ("--model", "resnet"), "choose from"),
      ("vmapped_sweep", ("--levels", "1"), "at least 2")):
    out = _bench(script, *args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, (script, args, out.stderr[-500:])
  assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
