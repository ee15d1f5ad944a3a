"""The one loop and the run directory: validation before writing, identity, guards, live views."""

import shutil
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rethink_jax import checkpoint, loop, multirun, records, train
from rethink_jax.configs import common
from rethink_jax import validation

from test_train import small_config

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- validation before anything is written

BAD_VALUES = [
    ("batch_size", -1, "a positive integer"), ("batch_size", 0, "a positive integer"),
    ("batch_size", 4000, "at most the 2000 training examples"),
    ("log_every_steps", 0, "a positive integer"), ("eval_every_steps", 0, "a positive integer"),
    ("checkpoint_every_steps", -5, "a positive integer"),
    ("keep_checkpoints", 0, "a positive integer"), ("eval_batch_size", 0, "a positive integer"),
    ("num_epochs", 0.0, "a finite number > 0"), ("num_epochs", float("nan"), "a finite number > 0"),
    ("optim.lr", 0.0, "a finite number > 0"), ("optim.lr", -0.1, "a finite number > 0"),
    ("optim.decay_examples", 0, "a finite number > 0"), ("optim.momentum", 1.5, "a number in [0, 1)"),
    ("optim.lr_decay", 0.0, "a number in (0, 1]"), ("fit_threshold", 1.2, "a number in (0, 1]"),
    ("model", "resnet50", "one of 'inception_small'"), ("data.name", "svhn", "one of 'cifar10', 'mnist'"),
    ("corruption.kind", "noisy", "one of 'true_labels'"), ("data.source", "web", "one of 'sample'"),
    ("data.max_train", -1, "an integer >= 0"),
]


@pytest.mark.parametrize("key,value,allowed", BAD_VALUES, ids=[f"{k}={v}" for k, v, _ in BAD_VALUES])
def test_bad_config_value_is_one_clear_line_and_writes_nothing(tmp_path, key, value, allowed):
  config = common.override(small_config(), **{key: value})
  with pytest.raises(validation.ConfigError) as info:
    train.train_and_evaluate(config, tmp_path / "run")
  message = str(info.value)
  assert message.startswith(f"config.{key} = {value!r}: must be ") and allowed in message and "\n" not in message
  assert not (tmp_path / "run").exists()


def test_label_noise_entries_are_checked_before_anything_is_written(tmp_path):
  human = common.override(small_config(), **{"corruption.kind": "cifar10n", "corruption.variant": "worst"})
  cases = [(common.override(human, **{"corruption.variant": "best"}), "config.corruption.variant = 'best'"),
           (human, "config.corruption.labels_file = ''"),
           (common.override(human, **{"corruption.labels_file": str(tmp_path / "absent.pt")}), "UCSC-REAL"),
           (common.override(small_config(), **{"corruption.kind": "asymmetric_labels", "corruption.p": 0.3,
                                               "data.name": "mnist"}), "CIFAR-10's classes")]
  for config, message in cases:
    with pytest.raises(validation.ConfigError, match=message.replace("(", r"\(")) as info:
      train.train_and_evaluate(config, tmp_path / "run")
    assert "\n" not in str(info.value)
  assert not (tmp_path / "run").exists()
  # ConfigDict refuses these types itself; a plain dict config reaches the check
  full = common.base_config().to_dict()
  with pytest.raises(validation.ConfigError, match="config.track_examples = 1: must be True or False"):
    validation.check({**full, "track_examples": 1})
  with pytest.raises(validation.ConfigError, match="config.corruption.corrupt_test = 'yes': must be True or False"):
    validation.check({**full, "corruption": {**full["corruption"], "corrupt_test": "yes"}})
  # every key of the schema must be there: a hand-built config missing one is named
  del full["optim"]["momentum"]
  with pytest.raises(validation.ConfigError, match=r"config.optim.momentum is missing: build configs from"):
    validation.check(full)


def test_new_entries_at_their_neutral_defaults_keep_older_identities():
  c = small_config()
  older = c.to_dict()
  for key in ("variant", "labels_file", "corrupt_test"):
    del older["corruption"][key]
  del older["track_examples"]
  assert records.identity_hash(c) == records.identity_hash(older)  # run directories from before still resume
  assert records.identity_hash(common.override(c, track_examples=True)) == records.identity_hash(c)  # how, not what
  assert records.identity_hash(common.override(c, **{"corruption.corrupt_test": True})) != records.identity_hash(c)


def test_bad_values_are_refused_by_every_engine(tmp_path):
  base = common.override(small_config(), **{"data.max_train": 256, "data.max_test": 64})
  bad = common.override(base, log_every_steps=0)
  with pytest.raises(validation.ConfigError, match="config.log_every_steps = 0"):
    multirun.train_many([bad, common.override(bad, seed=1)], [tmp_path / "a", tmp_path / "b"], group_dir=tmp_path / "g")
  from rethink_jax import imagenet
  from rethink_jax.configs import imagenet as imagenet_configs

  c = imagenet_configs.get_config("tiny")
  c.keep_checkpoints = 0
  with pytest.raises(validation.ConfigError, match="config.keep_checkpoints = 0"):
    imagenet.train_and_evaluate(c, tmp_path / "imagenet")
  assert not any(tmp_path.iterdir())


def test_batch_not_divisible_by_the_devices(tmp_path):
  helper = REPO / "tests" / "helpers" / "run_training.py"
  out = subprocess.run([sys.executable, str(helper), str(tmp_path / "run"), str(tmp_path / "o.npz"), "--devices", "4",
                        "--set", "batch_size=30", "num_epochs=1.0"], capture_output=True, text=True, timeout=300,
                       env=_env())
  assert out.returncode != 0 and "config.batch_size = 30: must be divisible by the 4 devices" in out.stderr
  assert not (tmp_path / "run").exists()


def _env():
  import os
  env = dict(os.environ)
  env.pop("XLA_FLAGS", None)
  env["PYTHONPATH"] = str(REPO)
  return env


# ---------------------------------------------------------------- command line

def _script(tmp_path, *args, cwd=None):
  return subprocess.run([sys.executable, str(REPO / "experiments" / "random_labels.py"), *args], capture_output=True,
                        text=True, timeout=600, cwd=cwd or tmp_path, env=_env())


@pytest.mark.parametrize("args,expected", [
    (["--config.batch_size=-3"], "error: config.batch_size = -3: must be a positive integer."),
    (["--config.optim.lrr=0.1"], "error: unknown config key 'lrr'; Did you mean \"lr\" instead of \"lrr\"?"),
    (["--config.batch_size=abc"], "error: flag --config.batch_size=abc:"),
    (["--config.data.source=files", "--config.data.data_dir=/nonexistent"], "error: "),
])
def test_user_errors_at_the_command_line_exit_2_without_traceback(tmp_path, args, expected):
  out = _script(tmp_path, "--workdir", str(tmp_path / "run"), *args)
  assert out.returncode == 2, out.stderr[-2000:]
  assert out.stderr.startswith(expected) and "Traceback" not in out.stderr
  assert len(out.stderr.strip().splitlines()) <= 2
  assert not (tmp_path / "run").exists()


def test_cli_config_mismatch_exits_2_and_default_workdirs_do_not_collide(tmp_path):
  fast = ["--config.num_epochs=0.5", "--config.eval_every_steps=5", "--config.log_every_steps=5"]
  first = _script(tmp_path, *fast)
  assert first.returncode == 0, first.stderr[-2000:]
  other = _script(tmp_path, *fast, "--config.optim.lr=0.02")
  assert other.returncode == 0, other.stderr[-2000:]
  dirs = sorted(p.name for p in (tmp_path / "runs" / "random_labels").iterdir())
  assert len(dirs) == 2 and all(d.startswith("mlp_1x512-random_labels-sample-seed0-") for d in dirs)
  explicit = tmp_path / "runs" / "random_labels" / dirs[0]
  saved_lr = records.read_json(explicit / "config.json")["config"]["optim"]["lr"]
  clash = _script(tmp_path, *fast, "--workdir", str(explicit), f"--config.optim.lr={saved_lr * 3}")
  assert clash.returncode == 2 and "holds a run with another config" in clash.stderr
  assert "Traceback" not in clash.stderr
  again = _script(tmp_path, *fast)
  assert again.returncode == 0 and "is finished (step 8); remove it or pass another --workdir" in again.stderr
  assert "train accuracy" in again.stdout


# ---------------------------------------------------------------- identity, checkpoints, records

def test_copied_checkpoints_are_never_resumed_under_another_config(tmp_path):
  config = small_config(num_epochs=1.0)
  train.train_and_evaluate(config, tmp_path / "a")
  # checkpoints copied into a fresh directory: no config.json says whose they are
  shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")
  other = common.override(config, **{"optim.lr": 0.1})
  with pytest.raises(records.ConfigMismatchError, match="config.json is missing"):
    train.train_and_evaluate(other, tmp_path / "b")
  # ...and with a config.json edited to the new config, the checkpoint's own identity refuses it
  saved = records.read_json(tmp_path / "a" / "config.json")
  saved["config"] = other.to_dict()
  records.write_json(tmp_path / "b" / "config.json", saved)
  with pytest.raises(records.ConfigMismatchError, match="was written by another run"):
    train.train_and_evaluate(other, tmp_path / "b")
  assert not (tmp_path / "b" / "metrics.jsonl").exists()


def test_bad_checkpoint_arguments_and_unreadable_checkpoints_are_one_clear_error(tmp_path):
  state, sums = {"w": jnp.ones(3)}, {"n": jnp.zeros(())}
  (tmp_path / "a_file").write_text("")
  with pytest.raises(NotADirectoryError, match="Checkpoints: .*a_file is a file, not a checkpoint directory"):
    checkpoint.Checkpoints(tmp_path / "a_file", "abc")
  with pytest.raises(ValueError, match=r"Checkpoints: keep \(checkpoints kept; None: all\) must be an integer >= 1, got 0"):
    checkpoint.Checkpoints(tmp_path / "k", "abc", keep=0)  # orbax deleted every checkpoint as it was written
  with pytest.raises(TypeError, match="Checkpoints: identity must be the run's identity hash"):
    checkpoint.Checkpoints(tmp_path / "k", None)
  ckpt = checkpoint.Checkpoints(tmp_path / "ckpt", "abc")
  with pytest.raises(ValueError, match="Checkpoints.save: step must be an integer >= 0, got -3"):
    ckpt.save(-3, state, sums, {})  # orbax filed it as the latest step
  with pytest.raises(TypeError, match="Checkpoints.save: meta must be JSON-serializable"):
    ckpt.save(3, state, sums, {"seconds": np.ones(2)})  # failed in orbax's writer thread, after the arrays
  assert ckpt.latest_step() is None
  ckpt.save(5, state, sums, {})
  ckpt.save(10, state, sums, {})
  with pytest.raises(FileNotFoundError, match=r"Checkpoints.restore_state: there is no checkpoint 7 .*\[5, 10\]"):
    ckpt.restore_state(state, 7)
  with pytest.raises(records.RecordError, match=r"Checkpoints.restore_state: checkpoint 10 .* could not be restored "
                                                r"\(ValueError: Requested shape.*the template"):
    ckpt.restore_state({"w": jnp.ones(4)})
  ckpt.close()
  shutil.rmtree(tmp_path / "ckpt" / "10" / "sums")
  with pytest.raises(records.RecordError, match=r"Checkpoints.restore: checkpoint 10 .* \(KeyError: .*sums"):
    checkpoint.Checkpoints(tmp_path / "ckpt", "abc").restore(state, sums)


def test_identity_ignores_how_a_run_goes_but_not_what_it_computes():
  c = small_config()
  assert records.identity_hash(c) == records.identity_hash(common.override(
      c, num_epochs=9.0, log_every_steps=3, checkpoint_every_steps=7, progress=False, conv_impl="im2col",
      **{"wandb.project": "x"}))
  for change in ({"optim.lr": 0.02}, {"seed": 1}, {"corruption.kind": "random_labels"}, {"batch_size": 32}):
    assert records.identity_hash(common.override(c, **change)) != records.identity_hash(c), change
  assert records.identity_diff(records.identity(c), records.identity(common.override(c, **{"optim.lr": 0.5}))) == [
      "optim.lr: 0.01 (saved) vs 0.5 (now)"]


def test_metrics_log_is_cut_back_on_resume_and_appended(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 0}\n{"step": 5}\n{"step": 10}\n{"step": 15, "batch_lo')  # killed mid-line
  log = records.MetricsLog(path, keep_until=10)
  assert [r["step"] for r in log.rows] == [0, 5, 10]
  log.append({"step": 12, "batch_loss": 1.5})
  assert records.read_jsonl(path) == [{"step": 0}, {"step": 5}, {"step": 10}, {"step": 12, "batch_loss": 1.5}]
  assert records.MetricsLog(path, keep_until=None).rows == [] and path.read_text() == ""
  path.write_text('{"step": 0}\nnot json\n{"step": 2}\n')
  with pytest.raises(records.RecordError, match=r"metrics.jsonl, line 2"):
    records.read_jsonl(path)


def test_summary_schema_is_the_same_for_every_engine(tmp_path):
  single = train.train_and_evaluate(small_config(num_epochs=0.5, **{"data.max_train": 256}), tmp_path / "s")
  assert set(records.SUMMARY_FIELDS) <= set(single)
  assert single["engine"] == "single" and single["corruption"]["kind"] == "true_labels"
  assert single["best_test_accuracy"] >= single["test_accuracy"]
  saved = records.read_json(tmp_path / "s" / "config.json")
  assert saved["identity"] == records.identity_hash(small_config(num_epochs=0.5, **{"data.max_train": 256}))
  assert saved["corruption"] == single["corruption"]


# ---------------------------------------------------------------- the non-finite guard

class _CountingProgram:
  """A real Program over a tiny state: parameter ``w`` of each run grows by one per step; run
  ``bad_run``'s loss becomes NaN from ``bad_step`` on."""

  engine, fit_metric = "vmapped", "train_accuracy"

  def __init__(self, num_runs, bad_run, bad_step):
    self.num_runs, self.steps_per_epoch, self.batch_size = num_runs, 10, 1
    self.bad_run, self.bad_step = bad_run, bad_step

    @jax.jit
    def step(state, sums):
      loss = jnp.where((jnp.arange(num_runs) == bad_run) & (state["step"] >= bad_step), jnp.nan, 1.0)
      return ({"step": state["step"] + 1, "w": state["w"] + 1.0},
              loop.add_step(sums, {"loss": loss, "accuracy": jnp.zeros(num_runs)}, state["step"]))
    self._step = step

  def zero_sums(self):
    return loop.StepSums.zeros((self.num_runs,))

  def train(self, state, sums, first_step, num_steps, active):
    for _ in range(num_steps):
      state, sums = self._step(state, sums)
    return state, sums

  def evaluate(self, state):
    return [{"train_accuracy": 0.5, "test_accuracy": 0.1} for _ in range(self.num_runs)]

  def learning_rate(self, step):
    return 0.1


@pytest.mark.parametrize("bad_step,last_good", [(3, None), (12, 10)])
def test_a_nan_in_one_vmapped_run_is_never_checkpointed(tmp_path, bad_step, last_good):
  # checkpoints every 5 steps, log rows every 3, evaluations every 7: a NaN at step 3 is seen at the
  # checkpoint boundary 5 (no log row there) and stops the group before that checkpoint is written.
  config = small_config(checkpoint_every_steps=5, log_every_steps=3, eval_every_steps=7, num_epochs=3.0)
  configs = [common.override(config, seed=i) for i in range(3)]
  runs = [loop.Run(workdir=tmp_path / f"r{i}", config=c, record={}, corruption={"kind": "true_labels"},
                   dataset="counting", num_params=1) for i, c in enumerate(configs)]
  for r in runs:
    r.workdir.mkdir()
  state = {"step": jnp.zeros((), jnp.int32), "w": jnp.zeros(3)}
  kept = (rf"the last good checkpoint \(step {last_good}\) in {tmp_path / 'ckpt'} is kept" if last_good is not None
          else "no checkpoint had been written yet")
  with pytest.raises(loop.NonFiniteLossError, match=rf"r1 became non-finite at step {bad_step}; {kept}\."):
    loop.run(_CountingProgram(3, bad_run=1, bad_step=bad_step), state, runs, tmp_path / "ckpt")
  ckpt = checkpoint.Checkpoints(tmp_path / "ckpt", records.identity_hash(*configs))
  assert ckpt.latest_step() == last_good
  if last_good is not None:
    restored = ckpt.restore_state(state)
    assert int(restored["step"]) == last_good and np.all(np.isfinite(restored["w"]))
  ckpt.close()


# ---------------------------------------------------------------- progress, TensorBoard, W&B

def test_log_lines_when_not_a_terminal_and_finished_message(tmp_path, capsys):
  config = small_config(num_epochs=1.0, eval_every_steps=10, progress=True)
  train.train_and_evaluate(config, tmp_path / "run")
  err = capsys.readouterr().err.splitlines()
  lines = [l for l in err if l.startswith("run: step ")]
  assert [l.split(" | ")[0] for l in lines] == ["run: step 0/31", "run: step 10/31", "run: step 20/31",
                                                "run: step 30/31", "run: step 31/31"]
  assert all(" | epoch " in l and " | train_accuracy " in l and " | test_accuracy " in l and " | elapsed " in l
             for l in lines)
  assert " img/s | " in lines[1]
  summary = train.train_and_evaluate(config, tmp_path / "run")
  assert (f"{tmp_path / 'run'} is finished (step 31); remove it or pass another --workdir to train again."
          in capsys.readouterr().err.splitlines())
  assert summary == records.read_json(tmp_path / "run" / "summary.json")


def test_vmapped_group_reports_progress(tmp_path, capsys):
  base = small_config(num_epochs=1.0, eval_every_steps=2, log_every_steps=2, progress=True, **{"data.max_train": 128,
                                                                               "data.max_test": 32})
  configs = [common.override(base, **{"corruption.kind": "partial_labels", "corruption.p": p}) for p in (0.0, 1.0)]
  multirun.train_many(configs, [tmp_path / "a", tmp_path / "b"], group_dir=tmp_path / "g")
  lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("2 vmapped runs: step ")]
  assert lines[-1].startswith("2 vmapped runs: step 2/2 | epoch 1.0 | train_accuracy ")
  assert "fitted 0/2" in lines[-1]


class _FakeWandb(types.ModuleType):
  """Records what the library sends to W&B (the real package is not a dependency)."""

  def __init__(self):
    super().__init__("wandb")
    self.inits, self.logged, self.finished = [], [], 0

  def init(self, **kwargs):
    self.inits.append(kwargs)
    fake = self

    class _Run:
      def log(self, values, step):
        fake.logged.append((step, values))

      def finish(self):
        fake.finished += 1
    return _Run()


def test_wandb_logs_the_metrics_rows(tmp_path, monkeypatch):
  fake = _FakeWandb()
  monkeypatch.setitem(sys.modules, "wandb", fake)
  config = small_config(num_epochs=0.5, **{"wandb.project": "rethink", "data.max_train": 256})
  train.train_and_evaluate(config, tmp_path / "run")
  rows = records.read_jsonl(tmp_path / "run" / "metrics.jsonl")
  assert fake.inits[0]["project"] == "rethink" and fake.inits[0]["resume"] == "allow"
  assert fake.inits[0]["config"]["optim"]["lr"] == 0.01 and fake.finished == 1
  assert [s for s, _ in fake.logged] == [r["step"] for r in rows]
  assert [v.get("train/accuracy") for _, v in fake.logged] == [r.get("train_accuracy") for r in rows]


def test_wandb_asked_for_but_missing_is_a_clear_error(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
  config = small_config(**{"wandb.project": "rethink"})
  with pytest.raises(validation.ConfigError, match="needs the wandb package, which is not installed"):
    train.train_and_evaluate(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


def test_one_compilation_per_run_whatever_the_intervals(tmp_path):
  """After a warm-up run (eager helpers compiled once per process), a whole run compiles exactly
  its four programs, the step, the epoch permutation and the evaluation for each split's
  size, however its log, evaluation and checkpoint boundaries cut the steps into chunks."""
  from jax import monitoring

  compiles = []
  monitoring.register_event_duration_secs_listener(
      lambda name, secs, **kw: compiles.append(name) if name == "/jax/core/compile/backend_compile_duration" else None)
  base = small_config(num_epochs=2.0)
  train.train_and_evaluate(base, tmp_path / "warm-up")
  for i, (log, ev, ck) in enumerate([(10, 10, 10), (7, 13, 5), (3, 31, 11)]):
    compiles.clear()
    train.train_and_evaluate(common.override(base, log_every_steps=log, eval_every_steps=ev,
                                             checkpoint_every_steps=ck), tmp_path / f"run{i}")
    assert len(compiles) == 4, (log, ev, ck)


def test_tensorboard_tags_group_metrics_by_split_and_timings_apart():
  from rethink_jax import monitoring

  assert [monitoring.scalar_tag(k) for k in ("train_loss", "test_top5", "batch_accuracy", "train_seconds",
                                             "images_per_second", "lr")] == [
      "train/loss", "test/top5", "batch/accuracy", "perf/train_seconds", "perf/images_per_second", "lr"]


def test_a_log_line_never_reads_1_short_of_a_fit(capsys):
  """The evaluation log line and the end-of-run summary show 0.99998 (one of 50,000 wrong) as
  0.99998, not as 1.0000; within float32 rounding of 1 counts as 1."""
  from rethink_jax import cli, monitoring

  assert [monitoring.fraction(x) for x in (0.99998, 0.999951, 1.0, 0.99999994, 0.10292, 0.5)] == \
      ["0.99998", "0.99995", "1.0000", "1.0000", "0.1029", "0.5000"]
  progress = monitoring.Progress(label="run", total=100, initial=0, stop_at_fit=True, enabled=True, is_main=True)
  progress.evaluated(50, 2.0, [{"train_accuracy": 0.99998, "test_accuracy": 0.1029}], None, 0, 1)
  assert "train_accuracy 0.99998 | test_accuracy 0.1029" in capsys.readouterr().err
  summary = {"model": "m", "num_params": 1, "dataset": "d", "step": 50, "epoch": 2.0, "train_accuracy": 0.99998,
             "test_accuracy": 0.1029, "time_to_fit": None, "fit_threshold": 1.0, "train_seconds": 1.0}
  assert "train accuracy   0.99998\n" in cli.format_summary(summary, "dir")
