"""docs/contributing.md's examples run as a user's own script, from outside the repository."""

import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_every_python_block_of_the_extending_page_runs_as_a_user_script(tmp_path):
  page = (REPO / "docs" / "contributing.md").read_text()
  blocks = re.findall(r"```python\n(.*?)```", page, re.S)
  assert blocks, "docs/contributing.md holds no python example"
  script = tmp_path / "user_script.py"
  script.write_text("\n".join(blocks))
  env = dict(os.environ, PYTHONPATH=str(REPO))
  out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                       env=env)
  assert out.returncode == 0, out.stderr[-3000:]
  lines = out.stdout.strip().splitlines()
  model_line = next(l for l in lines if l.startswith("tiny_convnet "))
  corrupted_line = next(l for l in lines if l.startswith("corrupted labels:"))
  provenance = next(l for l in lines if l.startswith("my_100_classes ("))
  name, params, step = model_line.split()
  assert name == "tiny_convnet" and int(params) == 3 * 3 * 3 * 64 + 64 + 64 * 10 + 10 and int(step) == 30
  assert 0.85 < float(corrupted_line.split()[-1]) < 0.95  # random labels: 9 in 10 differ from the clean ones
  assert (tmp_path / "runs" / "tiny_convnet" / "summary.json").exists()
  # the user's own 100-class arrays, with their own noise: named by content, the noise counted
  assert provenance.startswith("my_100_classes (arrays, 512 train + 128 test images, 100 classes, ")
  assert "training labels given corrupted; sha256 " in provenance and "/" not in provenance.split(";")[0]
  saved = __import__("json").loads((tmp_path / "runs" / "my_100_classes" / "config.json").read_text())
  assert saved["num_classes"] == 100 and saved["config"]["data"]["name"] == "my_100_classes"
  # a corruption of the user's own, registered from the script: applied, recorded, its run directory named by it
  flipped = float(next(l for l in lines if l.startswith("pair-flipped:")).split()[-1])
  assert 0.25 < flipped < 0.35
  saved = __import__("json").loads((tmp_path / "runs" / "pair_flip" / "config.json").read_text())
  assert saved["corruption"]["kind"] == "pair_flip" and saved["corruption"]["p"] == 0.3
  assert abs(saved["corruption"]["fraction_changed"] - flipped) < 1e-6
  # the user's own per-example statistic: clean labels are fitted more often than flipped ones
  clean, noisy = map(float, next(l for l in lines if l.startswith("fitted fraction")).split()[-2:])
  assert 0.0 <= noisy < clean <= 1.0


def test_register_refuses_the_papers_names_and_non_callables_and_validation_knows_new_names():
  import pytest
  from flax import nnx

  from rethink_jax import models
  from rethink_jax.configs import common
  from rethink_jax import validation

  with pytest.raises(ValueError, match="must be a new, non-empty name"):
    models.register("alexnet_small", lambda **kw: None)
  with pytest.raises(TypeError, match="must be callable"):
    models.register("not_a_builder", 3)
  config = common.override(common.base_config(), model="my_registered_mlp")
  with pytest.raises(validation.ConfigError, match="config.model = 'my_registered_mlp': must be one of"):
    validation.check(config)
  models.register("my_registered_mlp", lambda **kw: models.MLP(depth=1, width=8, **kw))
  validation.check(config)
  assert "my_registered_mlp" in models.names() and "my_registered_mlp" not in models.NAMES
  net = models.create("my_registered_mlp", rngs=nnx.Rngs(0))
  assert models.count_params(net) == 28 * 28 * 3 * 8 + 8 + 8 * 10 + 10


def test_own_arrays_are_named_checked_and_never_resumed_on_other_arrays(tmp_path):
  import numpy as np
  import pytest

  from rethink_jax import data, records, train
  from rethink_jax.configs import common
  from rethink_jax import validation

  rng = np.random.default_rng(1)
  x, y = rng.integers(0, 256, (160, 32, 32, 3), dtype=np.uint8), rng.integers(0, 3, 160)
  mine = data.from_arrays("three", x[:128], y[:128], x[128:], y[128:], num_classes=3)
  config = common.override(common.base_config(), **{"data.source": "arrays", "data.name": "three", "num_epochs": 0.5,
                                                    "batch_size": 32, "progress": False})
  with pytest.raises(validation.ConfigError, match="pass the arrays as dataset="):
    train.train_and_evaluate(config, tmp_path / "a")
  with pytest.raises(validation.ConfigError, match="the dataset given is named 'three'"):
    train.train_and_evaluate(common.override(config, **{"data.name": "four"}), tmp_path / "a", dataset=mine)
  assert not (tmp_path / "a").exists()
  summary = train.train_and_evaluate(config, tmp_path / "a", dataset=mine)
  assert summary["dataset"].startswith(mine.provenance) and summary["step"] == 2
  other = data.from_arrays("three", x[:128], (y[:128] + 1) % 3, x[128:], y[128:], num_classes=3)
  with pytest.raises(records.ConfigMismatchError, match="holds a run on other arrays"):
    train.train_and_evaluate(common.override(config, num_epochs=1.0), tmp_path / "a", dataset=other)
  with pytest.raises(data.DataError, match="clean_y_train must lie in|labels must lie in"):
    data.from_arrays("bad", x[:128], y[:128], x[128:], y[128:], num_classes=3, clean_y_train=y[:128] + 3)
  with pytest.raises(data.DataError, match="clean_y_train must be an integer array shaped like y_train"):
    data.from_arrays("bad", x[:128], y[:128], x[128:], y[128:], num_classes=3, clean_y_train=y[:100])


def _titled_blocks(page: str) -> dict[str, str]:
  """The page's ```python title="PATH" blocks: the files (or lines) a change adds to the library."""
  return dict(re.findall(r'```python title="([^"]+)"\n(.*?)```', page, re.S))


def _package_copy(tmp_path) -> pathlib.Path:
  import shutil

  root = tmp_path / "copy"
  shutil.copytree(REPO / "rethink_jax", root / "rethink_jax", ignore=shutil.ignore_patterns("__pycache__"))
  (root / "experiments").mkdir()
  return root


def _run(root, *args, cwd):
  env = dict(os.environ, PYTHONPATH=str(root))
  env.pop("RETHINK_JAX_TRACEBACK", None)
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env)


def test_the_config_key_example_is_one_declaration_plus_its_use(tmp_path):
  blocks = _titled_blocks((REPO / "docs" / "contributing.md").read_text())
  declared, reference = blocks["rethink_jax/configs/schema.py"].splitlines()
  root = _package_copy(tmp_path)
  schema_py = root / "rethink_jax" / "configs" / "schema.py"
  text = schema_py.read_text()
  run_line = next(l for l in text.splitlines() if l.startswith('    "optim.momentum": Key('))
  imagenet_line = '    "optim.momentum": RUN["optim.momentum"],'
  assert text.count(run_line) == 1 and text.count(imagenet_line) == 1
  schema_py.write_text(text.replace(run_line, f"{run_line}\n{declared}").replace(imagenet_line,
                                                                                  f"{imagenet_line}\n{reference}"))
  train_py = root / "rethink_jax" / "train.py"
  text = train_py.read_text()
  old = next(l for l in text.splitlines() if "return optax.sgd(" in l)
  train_py.write_text(text.replace(old, blocks["rethink_jax/train.py"].rstrip("\n")))

  helped = _run(root, "-m", "rethink_jax", "random_labels", "--help", cwd=tmp_path)
  assert helped.returncode == 0 and "optim.nesterov" in helped.stdout
  assert "Nesterov momentum (not in the paper)" in helped.stdout
  bad = _run(root, "-m", "rethink_jax", "random_labels", "--config.optim.nesterov=3", "--dry_run", cwd=tmp_path)
  assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) <= 2, bad.stderr

  def run_dir(*flags):
    out = _run(root, "-m", "rethink_jax", "random_labels", *flags, "--dry_run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return next(l for l in out.stdout.splitlines() if l.startswith("run directory "))

  # the README's run directory, named before the key existed, is unchanged at its default
  assert run_dir().endswith("-61eb2a6673")
  assert not run_dir("--config.optim.nesterov=True").endswith("-61eb2a6673")
  trained = _run(root, "-m", "rethink_jax", "random_labels", "--config.optim.nesterov=True",
                 "--config.num_epochs=1", "--workdir", str(tmp_path / "nesterov"), cwd=tmp_path)
  assert trained.returncode == 0, trained.stderr[-2000:]
  saved = __import__("json").loads((tmp_path / "nesterov" / "config.json").read_text())
  assert saved["config"]["optim"]["nesterov"] is True


def test_the_experiment_example_runs_as_every_experiment_does(tmp_path):
  blocks = _titled_blocks((REPO / "docs" / "contributing.md").read_text())
  root = _package_copy(tmp_path)
  for path, text in blocks.items():
    if "random_labels_plain_sgd" in path:
      (root / path).write_text(text)
  listed = _run(root, "-m", "rethink_jax", "--help", cwd=tmp_path)
  assert "  random_labels_plain_sgd " in listed.stdout
  assert "Random labels with plain SGD (no momentum)." in listed.stdout
  dry = _run(root, str(root / "experiments" / "random_labels_plain_sgd.py"), "--config", "random_labels_plain_sgd:paper",
             "--config.data.data_dir=/data", "--dry_run", cwd=tmp_path)
  assert dry.returncode == 0, dry.stderr
  assert "  optim.momentum = 0.0" in dry.stdout and "  data.source = 'files'" in dry.stdout
  trained = _run(root, "-m", "rethink_jax", "random_labels_plain_sgd", "--config.num_epochs=1",
                 "--workdir", str(tmp_path / "plain"), cwd=tmp_path)
  assert trained.returncode == 0, trained.stderr[-2000:]
  assert "train accuracy" in trained.stdout
  saved = __import__("json").loads((tmp_path / "plain" / "config.json").read_text())
  assert saved["config"]["optim"]["momentum"] == 0.0 and saved["config"]["corruption"]["kind"] == "random_labels"
