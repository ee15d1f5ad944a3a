import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from tensorboard.util import tensor_util

from rethink_jax import data, models, preprocess, records, segments, train
from rethink_jax.configs import common

HELPER = pathlib.Path(__file__).parent / "helpers" / "run_training.py"
REPO = pathlib.Path(__file__).resolve().parents[1]


def small_config(**overrides) -> ml_collections.ConfigDict:
  c = common.base_config()
  c.batch_size = 64
  c.num_epochs = 2.0
  c.log_every_steps = 5
  c.eval_every_steps = 10
  c.checkpoint_every_steps = 20
  c.progress = False
  return common.override(c, **overrides)


@pytest.fixture(scope="module")
def sample():
  return data.load("cifar10")


def _batch(sample, n=32):
  return {"image": preprocess.cifar10_paper(sample.x_train[:n]), "label": jnp.asarray(sample.y_train[:n])}


@pytest.mark.parametrize("name", models.NAMES)
def test_few_steps_reduce_loss_every_model(sample, name):
  config = common.set_model(small_config(), name)
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  step = jax.jit(train.make_train_step(graphdef, config, keys["dropout"]), donate_argnums=0)
  batch = _batch(sample)
  losses = []
  for _ in range(6):
    state, m = step(state, batch)
    losses.append(float(m["loss"]))
  assert int(state.step) == 6 and all(np.isfinite(losses))
  assert losses[-1] < losses[0], losses
  assert float(m["lr"]) == pytest.approx(config.optim.lr)


def test_weight_decay_changes_the_update(sample):
  keys = train.stream_keys(0)
  batch = _batch(sample)
  out = []
  for wd in (0.0, 0.1):
    config = small_config(**{"optim.weight_decay": wd})
    graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
    state, _ = jax.jit(train.make_train_step(graphdef, config, keys["dropout"]))(state, batch)
    out.append(jax.tree_util.tree_leaves(state.params))
  kernel_diff = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(*out) if a.ndim > 1]
  bias_diff = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(*out) if a.ndim == 1]
  assert min(kernel_diff) > 0 and max(bias_diff) == 0.0  # L2 on weights only


def test_lr_schedule_decays_per_50k_examples():
  s = train.lr_schedule(0.1, 0.95, 50_000, 128)
  assert float(s(0)) == pytest.approx(0.1)
  assert float(s(390)) == pytest.approx(0.1)          # 49,920 examples: still epoch 0
  assert float(s(391)) == pytest.approx(0.095)        # 50,048 examples
  assert float(s(3907)) == pytest.approx(0.1 * 0.95 ** 10, rel=1e-5)


def test_steps_and_eval_compile_once(sample):
  config = small_config()
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  traces = []
  step_fn = train.make_train_step(graphdef, config, keys["dropout"])

  def counting_step(state, batch):
    traces.append(1)
    return step_fn(state, batch)

  mesh = train.make_mesh()
  state = train.replicate(mesh, state)  # as train_and_evaluate does: the input state is laid out like the output
  stepper = train.DataStepper(counting_step, config, mesh, keys["shuffle"], len(sample.y_train))
  dd = train.DeviceData(train.put_replicated(mesh, sample.x_train), train.put_replicated(mesh, sample.y_train))
  state, sums = stepper.run(state, dd, 0, 40)  # crosses an epoch boundary (31 steps per epoch)
  state, sums = stepper.run(state, dd, 40, 3, sums)
  assert int(state.step) == 43 and len(traces) == 1 and stepper.step._cache_size() == 1
  assert stepper.permutation._cache_size() == 1
  evaluate = train.make_eval_fn(graphdef, config, mesh, 300)
  evaluate(state, dd)
  evaluate(state, train.DeviceData(train.put_replicated(mesh, sample.x_test), train.put_replicated(mesh, sample.y_test)))
  assert evaluate.batch_sums._cache_size() == 2  # one per split shape, none per batch


def test_eval_pads_and_masks_the_last_batch(sample):
  config = small_config()
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  mesh = train.make_mesh()
  n = 333  # not a multiple of the eval batch
  dd = train.DeviceData(train.put_replicated(mesh, sample.x_test[:n]), train.put_replicated(mesh, sample.y_test[:n]))
  got = train.make_eval_fn(graphdef, config, mesh, 128)(state, dd)
  logits, _ = train.forward(graphdef, state.params, state.model_state, preprocess.cifar10_paper(sample.x_test[:n]),
                             False, None)
  acc = float(jnp.mean(jnp.argmax(logits, -1) == sample.y_test[:n]))
  loss = float(jnp.mean(jax.nn.logsumexp(logits, -1) - logits[jnp.arange(n), sample.y_test[:n]]))
  assert float(got["accuracy"]) == pytest.approx(acc, abs=1e-6)
  assert float(got["loss"]) == pytest.approx(loss, rel=1e-5)


def test_epoch_order_is_a_permutation_from_fold_in(sample):
  """Every example is visited once per epoch (partial last batch dropped)."""
  config = small_config(batch_size=100)
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  seen = []

  def recording_step(state, batch):
    jax.debug.callback(lambda y: seen.append(np.asarray(y)), batch["label"])
    return state.replace(step=state.step + 1), {"loss": jnp.zeros(()), "accuracy": jnp.zeros(())}

  n = 250  # 2 full batches, 50 dropped
  ids = np.arange(n, dtype=np.int32)
  mesh = train.make_mesh()
  stepper = train.DataStepper(recording_step, config, mesh, keys["shuffle"], n)
  dd = train.DeviceData(train.put_replicated(mesh, sample.x_train[:n]), train.put_replicated(mesh, ids))
  state, _ = stepper.run(state, dd, 0, 4)
  jax.effects_barrier()
  e0, e1 = np.concatenate(seen[:2]), np.concatenate(seen[2:])
  perm0 = np.asarray(jax.random.permutation(jax.random.fold_in(keys["shuffle"], 0), n))
  np.testing.assert_array_equal(e0, perm0[:200])
  assert len(set(e0.tolist())) == 200 and not np.array_equal(e0, e1)


def test_train_and_evaluate_writes_records(tmp_path):
  config = small_config(**{"corruption.kind": "random_labels"})
  summary = train.train_and_evaluate(config, tmp_path)
  saved = records.read_json(tmp_path / "config.json")
  assert saved["config"]["optim"]["lr"] == 0.01 and saved["num_params"] == 1_209_866
  assert saved["corruption"]["kind"] == "random_labels" and saved["environment"]["versions"]["jax"]
  rows = records.read_jsonl(tmp_path / "metrics.jsonl")
  steps = [r["step"] for r in rows]
  assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == summary["step"] == 62  # 2 epochs x 31 steps
  assert {"train_accuracy", "test_accuracy", "train_loss", "test_loss"} <= set(rows[-1])
  assert records.read_json(tmp_path / "summary.json") == json.loads(json.dumps(summary))
  assert train.restore_state(tmp_path).step == 62


def test_time_to_fit_and_stop(tmp_path):
  config = small_config(**{"corruption.kind": "random_labels", "num_epochs": 60.0, "stop_at_fit": True,
                           "fit_threshold": 0.5, "eval_every_steps": 31})
  summary = train.train_and_evaluate(config, tmp_path)
  rows = records.read_jsonl(tmp_path / "metrics.jsonl")
  first = next(r for r in rows if r.get("train_accuracy", 0.0) >= 0.5)
  assert summary["time_to_fit"]["step"] == first["step"] == summary["step"] < 60 * 31
  assert summary["time_to_fit"]["seconds"] > 0


def test_resume_with_other_config_is_refused_and_longer_run_continues(tmp_path):
  train.train_and_evaluate(small_config(num_epochs=1.0), tmp_path)
  with pytest.raises(train.ConfigMismatchError, match=r"optim.lr: 0.01 \(saved\) vs 0.1 \(now\)"):
    train.train_and_evaluate(small_config(**{"num_epochs": 1.0, "optim.lr": 0.1}), tmp_path)
  summary = train.train_and_evaluate(small_config(num_epochs=2.0), tmp_path)
  assert summary["step"] == 62


def test_unwritable_run_dir_fails_before_training(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  with pytest.raises(records.RunDirError, match="not writable"):
    train.train_and_evaluate(small_config(), blocker / "run")


def test_non_finite_loss_names_the_step_and_keeps_last_good_checkpoint(tmp_path):
  config = small_config(**{"optim.lr": 1e4, "checkpoint_every_steps": 1, "log_every_steps": 1,
                           "eval_every_steps": 1000, "num_epochs": 3.0})
  with pytest.raises(train.NonFiniteLossError, match=r"non-finite at step (\d+)") as info:
    train.train_and_evaluate(config, tmp_path)
  bad = int(info.value.args[0].split("step ")[1].split(";")[0])
  state = train.restore_state(tmp_path, config)
  assert int(state.step) <= bad
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(state.params))


# ---------------------------------------------------------------- multi-device, multi-process, resume

def _run_helper(workdir, out, *extra, timeout=300, env=None):
  cmd = [sys.executable, str(HELPER), str(workdir), str(out), *extra]
  return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env or _env())


def _env():
  env = dict(os.environ)
  env.pop("XLA_FLAGS", None)
  env["PYTHONPATH"] = str(REPO)
  return env


def _leaves(path):
  f = np.load(path)
  return [f[k] for k in f.files if k.startswith("arr_")], json.loads(str(f["summary"]))


# 128 examples, batch 32 (8 per device on 4 devices): 2 steps. BatchNorm makes global-batch statistics matter:
# per-device statistics would differ by far more than float noise after one step. Only 2 steps, because
# float-level differences grow about 5-10x per step this early in training (measured), so longer runs
# would test chaos, not correctness.
DP_SETTINGS = ["model=inception_small", "batch_size=32", "num_epochs=0.5", "optim.lr=0.01", "eval_every_steps=2",
               "log_every_steps=2", "checkpoint_every_steps=100", "data.max_train=128", "data.max_test=32"]


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory):
  """The one-device reference of the data-parallel tests (one run of the small Inception, shared)."""
  tmp = tmp_path_factory.mktemp("one_device")
  one = _run_helper(tmp / "one", tmp / "one.npz", "--devices", "1", "--set", *DP_SETTINGS)
  assert one.returncode == 0, one.stderr[-3000:]
  return tmp / "one.npz"


@pytest.mark.xdist_group("one_device_run")  # with the other user of the fixture, so it runs once
def test_four_devices_match_one_device(tmp_path, one_device_run):
  four = _run_helper(tmp_path / "four", tmp_path / "four.npz", "--devices", "4", "--set", *DP_SETTINGS)
  assert four.returncode == 0, four.stderr[-3000:]
  (a, sa), (b, sb) = _leaves(one_device_run), _leaves(tmp_path / "four.npz")
  assert int(np.load(tmp_path / "four.npz")["devices"]) == 4 and sa["step"] == sb["step"] == 2
  for x, y in zip(a, b):
    np.testing.assert_allclose(x, y, rtol=1e-3, atol=5e-5)
  assert sa["train_loss"] == pytest.approx(sb["train_loss"], rel=1e-4)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.xdist_group("one_device_run")
def test_two_processes_match_one_process(tmp_path, one_device_run):
  port = _free_port()
  cmd = lambda i: [sys.executable, str(HELPER), str(tmp_path / "dist"), str(tmp_path / "dist.npz"), "--devices", "2",
                   "--process", str(i), "--num-processes", "2", "--port", str(port), "--set", *DP_SETTINGS,
                   "track_examples=true"]  # per-example records gathered across hosts (training is unchanged)
  procs = [subprocess.Popen(cmd(i), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
           for i in range(2)]
  outs = [p.communicate(timeout=400) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  (a, sa), (b, sb) = _leaves(one_device_run), _leaves(tmp_path / "dist.npz")
  assert int(np.load(tmp_path / "dist.npz")["devices"]) == 4 and sb["step"] == 2 and sa["step"] == 2
  examples = records.read_examples(tmp_path / "dist")  # written by process 0 only, for every example
  assert examples["correct"].shape[1] == len(examples["labels"]) and len(examples["eval_steps"]) >= 1
  assert examples["correct"][-1].mean() == pytest.approx(sb["train_accuracy"], abs=1e-6)
  for x, y in zip(a, b):
    np.testing.assert_allclose(x, y, rtol=1e-3, atol=5e-5)


def _tensorboard_scalars(logdir) -> dict[str, dict[int, float]]:
  from tensorboard.backend.event_processing import event_accumulator

  acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
  acc.Reload()
  out = {}
  for tag in acc.Tags()["tensors"]:
    out[tag] = {e.step: float(np.asarray(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)}
  return out


def _without_timings(rows):
  return [{k: v for k, v in r.items() if k not in records.TIMING_KEYS} for r in rows]


def test_sigkill_and_resume_is_bit_identical(tmp_path):
  """Killed between a checkpoint (every 10 steps) and the next log row (every 7; evaluations
  every 13), the resumed run ends with the same parameters, metrics rows and TensorBoard curves."""
  settings = ["model=mlp_1x512", "batch_size=64", "num_epochs=3.0", "eval_every_steps=13", "log_every_steps=7",
              "checkpoint_every_steps=10", "corruption.kind=random_labels", "track_examples=true"]
  ref = _run_helper(tmp_path / "ref", tmp_path / "ref.npz", "--set", *settings)
  assert ref.returncode == 0, ref.stderr[-3000:]

  workdir = tmp_path / "killed"
  killed = _run_helper(workdir, tmp_path / "unused.npz", "--kill-after-row", "39", "--set", *settings)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  assert not (workdir / "summary.json").exists()
  assert [r["step"] for r in records.read_jsonl(workdir / "metrics.jsonl")][-1] == 39  # past checkpoint 30
  assert list(records.read_examples(workdir)["eval_steps"]) == [0, 13, 26]  # written with checkpoint 30

  (workdir / ".examples.npz.k1ll3d.tmp").write_bytes(b"PK\x03\x04 half a file")  # a write the kill cut short
  resumed = _run_helper(workdir, tmp_path / "resumed.npz", "--set", *settings)
  assert not list(workdir.glob("*.tmp")) and not list(workdir.glob(".*.tmp"))
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"Resuming from step 30 of {workdir}" in resumed.stderr
  (a, sa), (b, sb) = _leaves(tmp_path / "ref.npz"), _leaves(tmp_path / "resumed.npz")
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  metrics_ref = records.read_jsonl(tmp_path / "ref" / "metrics.jsonl")
  metrics_res = records.read_jsonl(workdir / "metrics.jsonl")
  assert [r["step"] for r in metrics_ref] == [0, 7, 13, 14, 21, 26, 28, 35, 39, 42, 49, 52, 56, 63, 65, 70, 77, 78,
                                              84, 91, 93]
  assert _without_timings(metrics_ref) == _without_timings(metrics_res)
  ex_ref, ex_res = records.read_examples(tmp_path / "ref"), records.read_examples(workdir)
  assert sorted(ex_ref) == sorted(ex_res) and list(ex_res["eval_steps"]) == [0, 13, 26, 39, 52, 65, 78, 91, 93]
  for key in ex_ref:
    np.testing.assert_array_equal(ex_ref[key], ex_res[key], err_msg=key)
  assert ex_res["correct"][-1].mean() == pytest.approx(sb["train_accuracy"], abs=1e-6)
  assert ex_res["corrupted"].mean() > 0.8  # random labels
  assert {k: v for k, v in sa.items() if k not in ("train_seconds", "time_to_fit", "segments")} == \
         {k: v for k, v in sb.items() if k not in ("train_seconds", "time_to_fit", "segments")}
  # Both processes are in the record: the killed one up to its last checkpoint, the training
  # time of the summary their sum (the steps 31-39 the killed process trained in vain excluded).
  segs = segments.read_segments(workdir)
  assert [(s["first_step"], s["last_step"], s["end"]) for s in segs] == [(0, 30, "killed"), (30, 93, "finished")]
  assert sa["segments"] == 1 and sb["segments"] == 2 and sb["git"] == [segs[0]["git"]]
  assert all(s["pid"] > 0 and s["host"] and s["train_seconds"] > 0 and s["wall_seconds"] > 0 for s in segs)
  assert segs[0]["pid"] != segs[1]["pid"]
  assert sb["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in segs), rel=1e-9)
  # TensorBoard shows each step once, with the uninterrupted run's values (float32 in the events).
  tb_ref, tb_res = _tensorboard_scalars(tmp_path / "ref" / "tensorboard"), _tensorboard_scalars(workdir / "tensorboard")
  for tag in ("train/loss", "test/accuracy", "batch/loss", "lr"):
    assert tb_res[tag] == tb_ref[tag], tag
  assert sorted(tb_res["batch/loss"]) == [r["step"] for r in metrics_ref if "batch_loss" in r]
  assert tb_res["batch/loss"][35] == pytest.approx(metrics_ref[7]["batch_loss"], rel=1e-6)


def test_augmentations_in_the_engine(sample, tmp_path):
  config = small_config(**{"augment.random_crop": True, "augment.flip": True, "augment.rotate_degrees": 25.0})
  input_fn = train.make_input_fn(config)
  x = sample.x_train[:8]
  plain = np.asarray(input_fn(x))
  np.testing.assert_allclose(plain, preprocess.cifar10_paper(x), rtol=1e-5, atol=1e-5)  # eval: centre crop
  a, b = np.asarray(input_fn(x, jax.random.key(0))), np.asarray(input_fn(x, jax.random.key(1)))
  assert a.shape == plain.shape and not np.allclose(a, plain) and not np.allclose(a, b)
  np.testing.assert_array_equal(a, np.asarray(input_fn(x, jax.random.key(0))))  # same step key, same batch
  summary = train.train_and_evaluate(common.override(config, num_epochs=0.5), tmp_path)
  assert summary["step"] == 16 and np.isfinite(summary["train_loss"])  # ceil(0.5 x 31 steps)
