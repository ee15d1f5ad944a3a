"""One process owns a run directory: a second one refuses in one line, a dead one never blocks."""

import json
import signal
import subprocess
import sys
import time

import pytest

from rethink_jax import locking, records

from test_train import HELPER, REPO, _env, _run_helper, _without_timings

SETTINGS = ["model=mlp_1x512", "batch_size=64", "num_epochs=2.0", "eval_every_steps=13", "log_every_steps=7",
            "checkpoint_every_steps=10", "corruption.kind=random_labels"]


def _wait_for(predicate, what: str, timeout: float = 180.0) -> None:
  deadline = time.monotonic() + timeout
  while not predicate():
    if time.monotonic() > deadline:
      raise AssertionError(f"timed out waiting for {what}")
    time.sleep(0.1)


def _has_row(path, step: int) -> bool:
  try:
    return any(r["step"] == step for r in records.read_jsonl(path, drop_torn_tail=True))
  except records.RecordError:
    return False


def test_a_second_process_on_a_busy_run_directory_exits_2_and_the_first_is_undisturbed(tmp_path):
  reference = _run_helper(tmp_path / "ref", tmp_path / "ref.npz", "--set", *SETTINGS)
  assert reference.returncode == 0, reference.stderr[-3000:]

  workdir, go = tmp_path / "busy", tmp_path / "go"
  first = subprocess.Popen([sys.executable, str(HELPER), str(workdir), str(tmp_path / "first.npz"),
                            "--pause-after-row", "14", str(go), "--set", *SETTINGS],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
  try:
    _wait_for(lambda: _has_row(workdir / "metrics.jsonl", 14) or first.poll() is not None, "the first run's row 14")
    assert first.poll() is None, first.communicate()[1][-3000:]
    # The same run from the command line (random_labels' cpu preset has the same identity).
    second = subprocess.run([sys.executable, str(REPO / "experiments" / "random_labels.py"), "--config.batch_size=64", "--workdir",
                             str(workdir)], capture_output=True, text=True, timeout=300, env=_env())
    rows_while_busy = records.read_jsonl(workdir / "metrics.jsonl")
  finally:
    go.touch()
    _, err = first.communicate(timeout=300)
  assert first.returncode == 0, err[-3000:]
  assert second.returncode == 2, second.stderr[-3000:]
  line = second.stderr.strip()
  assert len(line.splitlines()) == 1 and line.startswith(f"error: {workdir} is in use by pid {first.pid} on host ")
  assert "wait for it to end, or pass another --workdir" in line
  assert [r["step"] for r in rows_while_busy] == [0, 7, 13, 14]
  # The first process's records are those of an undisturbed run.
  assert _without_timings(records.read_jsonl(workdir / "metrics.jsonl")) == \
      _without_timings(records.read_jsonl(tmp_path / "ref" / "metrics.jsonl"))
  mine, ref = records.read_json(workdir / "summary.json"), records.read_json(tmp_path / "ref" / "summary.json")
  timing = ("train_seconds", "time_to_fit")
  assert {k: v for k, v in mine.items() if k not in timing} == {k: v for k, v in ref.items() if k not in timing}
  assert mine["segments"] == 1


def test_a_lock_is_exclusive_released_on_exit_and_never_stale(tmp_path):
  with locking.claim(tmp_path / "run") as held:
    assert held.held and json.loads((tmp_path / "run" / locking.OWNER_FILE).read_text())["pid"] > 0
    with pytest.raises(locking.RunDirLockedError, match=r"run is in use by pid \d+ on host .* since 20"):
      locking.claim(tmp_path / "run")
    assert not locking.claim(tmp_path / "run", hold=False).held  # other hosts' processes write nothing there
  locking.claim(tmp_path / "run").release()  # free again once the holder let go

  # A holder killed with SIGKILL leaves its file but not its lock.
  code = ("import sys, time; from rethink_jax import locking; c = locking.claim(sys.argv[1]); "
          "print('held', flush=True); time.sleep(300)")
  holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "dead")], stdout=subprocess.PIPE, text=True,
                            env=_env())
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(locking.RunDirLockedError, match=f"pid {holder.pid} "):
      locking.claim(tmp_path / "dead")
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  assert (tmp_path / "dead" / locking.OWNER_FILE).exists()
  locking.claim(tmp_path / "dead").release()


def test_sweep_runs_and_vmapped_groups_claim_their_directories(tmp_path):
  from rethink_jax import multirun
  from test_train import small_config

  configs = [small_config(num_epochs=0.25, seed=s, **{"corruption.kind": "random_labels"}) for s in (0, 1)]
  busy = locking.claim(tmp_path / "b")
  with pytest.raises(locking.RunDirLockedError, match=f"{tmp_path / 'b'} is in use by pid"):
    multirun.train_many(configs, [tmp_path / "a", tmp_path / "b"], group_dir=tmp_path / "group")
  assert not (tmp_path / "a" / "config.json").exists()
  busy.release()
  multirun.train_many(configs, [tmp_path / "a", tmp_path / "b"], group_dir=tmp_path / "group")
  assert all((tmp_path / d / "summary.json").exists() for d in "ab")
