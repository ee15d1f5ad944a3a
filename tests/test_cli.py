"""The command line of every experiment: --help lists its config keys, --config is found from
any working directory, --dry_run writes nothing."""

import os
import pathlib
import subprocess
import sys

import pytest

from rethink_jax.configs import keys

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (REPO / "experiments").glob("*.py"))


def _run(script, *args, cwd):
  env = dict(os.environ, PYTHONPATH=str(REPO))
  return subprocess.run([sys.executable, str(REPO / "experiments" / f"{script}.py"), *args], capture_output=True,
                        text=True, timeout=300, cwd=cwd, env=env)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_presets_every_config_key_and_an_example(tmp_path, script):
  out = _run(script, "--help", cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-2000:]
  text = out.stdout
  assert "Presets: --config rethink_jax/configs/" in text and "Config keys (--config.KEY=VALUE)" in text
  entries = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and not line.startswith("  --")
             and not line.strip().startswith("python ")]
  assert "seed" in entries or "train.seed" in entries or "source" in entries
  for key in entries:  # every key has its meaning
    assert keys.describe(key), f"{script}: config key {key} has no meaning in rethink_jax/configs/keys.py"
  assert "  --dry_run:" in text and "  --workdir:" in text
  example = text.split("Example:\n")[1].strip()
  assert example.startswith(f"python experiments/{script}.py") and "  " not in example
  assert not any(tmp_path.iterdir())


def test_documented_config_path_and_short_form_work_from_any_directory(tmp_path):
  for config in ("rethink_jax/configs/random_labels.py:paper", "random_labels:paper"):
    out = _run("random_labels", "--config", config, "--config.model=alexnet_small", "--dry_run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "  model = 'alexnet_small'" in out.stdout and "  data.source = 'files'" in out.stdout
    assert "run directory runs/random_labels/alexnet_small-random_labels-files-seed0-" in out.stdout
    assert out.stdout.rstrip().endswith("dry run: nothing was trained or written.")
  sweep = _run("label_corruption", "--config=label_corruption", "--config.levels=(0.0,0.5)", "--dry_run",
               cwd=tmp_path)
  assert sweep.returncode == 0, sweep.stderr[-2000:]
  assert "sweep directory runs/label_corruption (figure1bc, 2 runs" in sweep.stdout
  assert "runs/label_corruption/p0.50" in sweep.stdout
  assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_bad_config_path_or_value_in_a_dry_run_is_one_line_and_exit_2(tmp_path):
  missing = _run("random_labels", "--config", "configs/nope.py", cwd=tmp_path)
  assert missing.returncode == 2 and missing.stderr.startswith("error: config file configs/nope.py not found")
  assert len(missing.stderr.strip().splitlines()) == 1
  bad = _run("random_labels", "--config.batch_size=0", "--dry_run", cwd=tmp_path)
  assert bad.returncode == 2 and bad.stderr.strip() == "error: config.batch_size = 0: must be a positive integer."
  assert not any(tmp_path.iterdir())
