"""Every experiment from an installed package: `rethink-jax NAME` and `python -m rethink_jax NAME`."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

from rethink_jax import commands

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_every_experiment_script_is_a_wrapper_of_a_package_command():
  scripts = sorted(p.stem for p in (REPO / "experiments").glob("*.py"))
  assert scripts == list(commands.NAMES)
  for name in scripts:
    text = (REPO / "experiments" / f"{name}.py").read_text()
    assert f"from rethink_jax.commands import {name}\n" in text and f"  {name}.main()\n" in text, name
    assert len(text.splitlines()) <= 12, name


def test_from_outside_the_repository_the_commands_list_every_experiment_and_run(tmp_path):
  listed = subprocess.run([sys.executable, "-m", "rethink_jax", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
  assert listed.returncode == 0, listed.stderr
  for name in commands.NAMES:
    assert f"  {name} " in listed.stdout and commands.describe(name) in listed.stdout, name
  console = shutil.which("rethink-jax", path=str(pathlib.Path(sys.executable).parent))
  if console is None:
    pytest.skip("the rethink-jax console command is not installed in this environment (pip install -e .)")
  dry = subprocess.run([console, "random_labels", "--config.model=alexnet_small", "--dry_run"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
  assert dry.returncode == 0, dry.stderr
  assert "  model = 'alexnet_small'" in dry.stdout and "dry run: nothing was trained or written." in dry.stdout
  helped = subprocess.run([console, "table1", "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
  assert helped.returncode == 0 and helped.stdout.startswith("Table 1 (and the Appendix table")
  assert "Example:\n  rethink-jax table1 " in helped.stdout and "--only:" in helped.stdout
  wrong = subprocess.run([console, "tabel1"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
  assert wrong.returncode == 2 and wrong.stderr.startswith("error: unknown experiment 'tabel1' (did you mean 'table1'?)")
  assert not any(tmp_path.iterdir())


def test_the_wheel_holds_the_commands_the_configs_and_the_embedded_sample(tmp_path):
  out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  (wheel,) = tmp_path.glob("rethink_jax-*.whl")
  names = set(zipfile.ZipFile(wheel).namelist())
  for path in ("rethink_jax/__main__.py", "rethink_jax/commands/table1.py", "rethink_jax/configs/table1.py",
               "rethink_jax/configs/schema.py", "rethink_jax/sample_data/cifar10_sample.npz",
               "rethink_jax/sample_data/mnist_sample.npz"):
    assert path in names, path
  entry_points = next(n for n in names if n.endswith("entry_points.txt"))
  assert "rethink-jax = rethink_jax.commands:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_a_command_runs_from_python_with_its_own_argv_and_leaves_sys_argv_alone(tmp_path):
  code = ("import sys\n"
          "from rethink_jax import commands\n"
          "before = list(sys.argv)\n"
          "try:\n"
          "  commands.main(['random_pixels', '--config.seed=3', '--dry_run'], prog='mine')\n"
          "except SystemExit as e:\n"
          "  assert e.code == 0, e.code\n"
          "assert sys.argv == before, sys.argv\n"
          "print('argv kept')\n")
  out = subprocess.run([sys.executable, "-c", code, "--not-a-flag"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
  assert out.returncode == 0, out.stderr
  assert "  seed = 3" in out.stdout and out.stdout.rstrip().endswith("argv kept")
