"""The benchmarks run, check their arguments, and write records the report renders."""

import pathlib
import statistics
import subprocess
import sys

import pytest
from helpers import cli_batch

from rethink_jax import records, report
from rethink_jax.report import benchmarks as benchmark_tables

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
  assert set(row["images_per_s"]) == {"jax", "jax_run"}  # an MLP has no im2col variant
  timed, in_run = row["images_per_s"]["jax"], row["images_per_s"]["jax_run"]
  assert len(timed) == len(in_run) == 2 and all(x > 0 for x in timed + in_run)
  text = report.script_results(tmp_path / "tt").read_text()
  assert text.startswith("# Train-step throughput, JAX and PyTorch\n")
  mean_sd = lambda xs: f"{statistics.mean(xs):,.1f} ± {statistics.stdev(xs):,.1f}"
  assert "| JAX im2col | JAX in a run | torch img/s |" in text
  assert f"| mlp_1x512 | 1,209,866 | {mean_sd(timed)} | — | {mean_sd(in_run)} | — | — | — |" in text
  assert "over 2 repetitions" in text and "PyTorch not installed" in text and "the ratio leaves it out" in text
  # A record made before the run variant existed renders without its column.
  del row["images_per_s"]["jax_run"]
  old = "\n".join(benchmark_tables.train_throughput(saved))
  assert f"| mlp_1x512 | 1,209,866 | {mean_sd(timed)} | — | — | — | — |" in old and "in a run" not in old


def test_vmapped_sweep_records_its_wall_times(tmp_path):
  out = _bench("vmapped_sweep", "--levels", "2", "--epochs", "0.2", "--repeats", "1", "--out", str(tmp_path / "vs"),
               cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "vs" / records.RESULTS)
  assert saved["script"] == "vmapped_sweep" and saved["runs"] == 2 and saved["steps"] > 0
  assert all(len(w) == 1 and w[0] > 0 for w in saved["wall_seconds"].values())
  text = report.script_results(tmp_path / "vs").read_text()
  assert "| 2 sequential runs |" in text and "| one vmapped program |" in text and "| speedup | **" in text


def test_subset_runs_records_each_k_and_the_report_renders_them(tmp_path):
  out = _bench("subset_runs", "--runs", "1", "2", "--sequential", "1", "--epochs", "0.3", "--repeats", "1",
               "--out", str(tmp_path / "sr"), cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "sr" / records.RESULTS)
  assert saved["script"] == "subset_runs" and [r["runs"] for r in saved["rows"]] == [1, 2]
  one, two = saved["rows"]
  assert len(one["sequential_seconds"]) == 1 and two["sequential_seconds"] == []  # sequential only up to K = 1
  assert two["vmapped_images_per_second"] == 2 * saved["steps"] * saved["batch_size"] / two["vmapped_seconds"][0]
  text = report.script_results(tmp_path / "sr").read_text()
  assert "| 2 | " in text and "| not run |" in text and "random 70% subset" in text


def test_minnorm_scaling_records_each_size_and_solver_with_its_floor(tmp_path):
  out = _bench("minnorm_scaling", "--sizes", "200,400", "--out", str(tmp_path / "ms"), cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "ms" / records.RESULTS)
  assert saved["script"] == "minnorm_scaling" and saved["config"]["sizes"] == [200, 400]
  assert [(r["n"], r["solver"]) for r in saved["rows"]] == [(200, "cholesky"), (200, "cg"), (400, "cholesky"),
                                                           (400, "cg")]
  for r in saved["rows"]:
    assert r["residual"] < 1e-6 and 0 < r["test_error"] < 0.5 and r["peak_rss_gb"] > 0
    assert (r["floor_seconds"] is not None) == (r["solver"] == "cholesky")
  # Both solvers interpolate the same system: the same predictions on the test images.
  assert saved["rows"][0]["test_error"] == saved["rows"][1]["test_error"]
  text = report.script_results(tmp_path / "ms").read_text()
  first = saved["rows"][0]
  assert (f"| 200 | cholesky | {first['seconds']:.1f} | {first['floor_seconds']:.1f} | "
          f"{first['seconds'] / first['floor_seconds']:.2f}x |") in text
  assert "| 400 | cg |" in text and "| — | — |" in text


def test_conv_profile_records_every_pass_of_every_implementation(tmp_path):
  out = _bench("conv_profile", "--batch", "4", "--size", "8", "--cin", "8", "--cout", "8", "--kernel", "5",
               "--repeats", "2", "--out", str(tmp_path / "cp"), cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "cp" / records.RESULTS)
  assert saved["script"] == "conv_profile" and {"jax", "jax_im2col"} <= set(saved["ms"])
  for passes in saved["ms"].values():
    assert set(passes) == {"forward", "input_grad", "weight_grad"}
    assert all(len(ms) == 2 and all(t > 0 for t in ms) for ms in passes.values())
  text = report.script_results(tmp_path / "cp").read_text()
  forward = saved["ms"]["jax"]["forward"]
  assert f"| JAX, XLA's convolution | {statistics.mean(forward):,.1f} ± {statistics.stdev(forward):,.1f} ms (" in text
  assert "over 2 repetitions of 10 calls" in text and "One 5x5 convolution" in text


def test_track_examples_records_both_arms_and_what_the_records_take(tmp_path):
  out = _bench("track_examples", "--epochs", "1", "--reps", "1", "--max-train", "256", "--out", str(tmp_path / "te"),
               cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "te" / records.RESULTS)
  assert saved["script"] == "track_examples" and saved["n_train"] == 256
  assert all(len(w) == 1 and w[0] > 0 for w in saved["wall_seconds"].values())
  assert saved["ratios"] == [saved["wall_seconds"]["on"][0] / saved["wall_seconds"]["off"][0]]
  # one evaluation per epoch (and the one at step 0): at least 4 bytes per training example each
  assert saved["evaluations"] >= 1 and saved["bytes_per_evaluation"] >= 4 * 256
  text = report.script_results(tmp_path / "te").read_text()
  assert f"| ratio on / off | **{saved['ratios'][0]:.3f}x**" in text and "256 training images" in text


def test_patch_features_records_every_stage_and_the_report_renders_them(tmp_path):
  out = _bench("patch_features", "--images", "20", "--filters", "100", "--reps", "2", "--out", str(tmp_path / "pf"),
               cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "pf" / records.RESULTS)
  assert saved["script"] == "patch_features" and saved["config"]["filters"] == 100
  assert sorted(saved["seconds"]) == ["convolution", "features", "features_100", "joined_100", "products"]
  assert saved["config"]["chunk"] == 14  # default_chunk(100 filters, 27 x 27 maps): calls of 14 and 6 images
  assert all(len(v) == 2 and min(v) > 0 for v in saved["seconds"].values())
  # the forecast is the measured medians scaled: per image per 1,000 filters, times 60,000 images
  med = statistics.median(saved["seconds"]["features"])
  assert saved["featurize_seconds_per_1000"]["features"] == pytest.approx(med / 20 * 1000 / 100 * 60_000, rel=1e-9)
  text = report.script_results(tmp_path / "pf").read_text()
  ratio = statistics.median(saved["seconds"]["joined_100"]) / med
  assert f"Joined at 100 per call / pooled apart at 14 per call: **{ratio:.2f}x**" in text
  assert "20 training images" in text


def test_benchmark_arguments_are_checked_before_any_work(tmp_path):
  (tmp_path / "file").write_text("")
  cases = (
      ("train_throughput", ("--models", "mlp_2x512"), "unknown 'mlp_2x512'"),
      ("train_throughput", ("--repeats", "0"), "must be positive"),
      ("train_throughput", ("--out", "file"), "exists and is not a directory"),
      ("vmapped_sweep", ("--model", "resnet"), "choose from"),
      ("vmapped_sweep", ("--levels", "1"), "at least 2"),
      ("subset_runs", ("--ratio", "1.0"), "must be in (0, 1)"),
      ("subset_runs", ("--runs", "0"), "must be positive"),
      ("subset_runs", ("--data-dir", "nowhere"), "nowhere: not a directory"),
      ("minnorm_scaling", ("--sizes", "10,x"), "comma-separated integers"),
      ("minnorm_scaling", ("--sizes", "100000"), "holds 5,000 training images"),
      ("minnorm_scaling", ("--solvers", "lu"), "choose from cholesky, cg"),
      ("minnorm_scaling", ("--backend", "jax"), "--solvers cholesky"),
      ("minnorm_scaling", ("--data-dir", "nowhere"), "nowhere"),
      ("minnorm_scaling", ("--out", "file"), "exists and is not a directory"),
      ("conv_profile", ("--repeats", "0"), "must be positive"),
      ("conv_profile", ("--kernel", "4"), "positive odd size"),
      ("conv_profile", ("--out", "file"), "exists and is not a directory"),
      ("track_examples", ("--epochs", "0.5"), "at least 1"),
      ("track_examples", ("--model", "resnet"), "choose from"),
      ("track_examples", ("--max-train", "100000"), "at most the 2,000 training examples"),
      ("track_examples", ("--out", "file"), "exists and is not a directory"),
      ("patch_features", ("--filters", "0"), "must be positive"),
      ("patch_features", ("--chunk", "-1"), "--chunk must be positive"),
      ("patch_features", ("--data-dir", "nowhere"), "nowhere: not a directory"),
      ("patch_features", ("--out", "file"), "exists and is not a directory"),
      ("patch_features", ("--images", "100000"), "the data holds 2,000 training images"),
      ("accelerator", ("--out", "acc"), "--data-dir is needed"),
      ("accelerator", ("--smoke", "--out", "acc", "--budget-seconds", "0"), "must be positive"),
      ("accelerator", ("--smoke", "--out", "file"), "exists and is not a directory"),
      ("accelerator", ("--data-dir", "nowhere", "--out", "acc"), "nowhere: not a directory"))
  # each its own process, one import for all (helpers/cli_batch.py)
  results = cli_batch.run([([REPO / "benchmarks" / f"{script}.py", *args], tmp_path) for script, args, _ in cases])
  for (script, args, message), out in zip(cases, results):
    assert out.returncode == 2 and message in out.stderr, (script, args, out.stderr[-500:])
  assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_accelerator_smoke_runs_every_section_and_the_report_renders_it(tmp_path):
  out = _bench("accelerator", "--smoke", "--out", str(tmp_path / "acc"), cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  saved = records.read_json(tmp_path / "acc" / records.RESULTS)
  assert saved["script"] == "accelerator" and saved["config"]["smoke"] is True
  assert [(r["model"], r["batch"]) for r in saved["train_step"]] == [("mlp_1x512", 128), ("mlp_1x512", 256)]
  assert all(r["images_per_s"] > 0 and r["flops_per_step"] > 0 for r in saved["train_step"])
  # XLA's FLOP count grows with the batch; no peak is known for a CPU, so no utilisation is claimed.
  assert saved["train_step"][1]["flops_per_step"] > 1.9 * saved["train_step"][0]["flops_per_step"]
  assert saved["peak_tflops"] is None and all(r["mfu"] is None for r in saved["train_step"])
  sweep = saved["vmapped_sweep"]
  assert sweep["runs"] == 2 and all(len(w) == 1 and w[0] > 0 for w in sweep["wall_seconds"].values())
  mn = saved["minnorm_mnist"]
  assert mn["n_train"] == 500 and mn["residual"] < 1e-6 and 0 < mn["test_error"] < 0.3
  head = saved["headline"]
  assert head["model"] == "mlp_1x512" and head["step"] > 0
  summary = records.read_json(tmp_path / "acc" / "mlp_1x512-random_labels" / "summary.json")
  assert summary["train_accuracy"] == head["train_accuracy"] and summary["corruption"]["kind"] == "random_labels"
  text = report.script_results(tmp_path / "acc").read_text()
  assert "| mlp_1x512 | 256 |" in text and "Vmapped sweep: 2 label-corruption runs" in text
  assert "Min-norm on MNIST (raw pixels, Gaussian kernel, backend jax): n = 500" in text


def test_accelerator_peaks_and_utilisation():
  sys.path.insert(0, str(REPO / "benchmarks"))
  import accelerator

  assert accelerator.peak_tflops("NVIDIA H100 80GB HBM3", "bfloat16") == 989.4
  assert accelerator.peak_tflops("NVIDIA H100 PCIe", "float32") == 378.0
  assert accelerator.peak_tflops("TPU v5 lite", "bfloat16") == 197.0 != accelerator.peak_tflops("TPU v5", "bfloat16")
  assert accelerator.peak_tflops("cpu", "float32") is None
  (row,) = accelerator.train_step_rows(("mlp_1x512",), "float32", 2.0, 0.05, 128)
  assert row["batch"] == 128 and row["steps_timed"] >= 3
  assert row["mfu"] == row["flops_per_step"] * row["images_per_s"] / 128 / 2e12
