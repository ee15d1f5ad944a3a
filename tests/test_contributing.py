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
  model_line, corrupted_line, provenance = out.stdout.strip().splitlines()[-3:]
  name, params, step = model_line.split()
  assert name == "tiny_convnet" and int(params) == 3 * 3 * 3 * 64 + 64 + 64 * 10 + 10 and int(step) == 30
  assert 0.85 < float(corrupted_line.split()[-1]) < 0.95  # random labels: 9 in 10 differ from the clean ones
  assert (tmp_path / "runs" / "tiny_convnet" / "summary.json").exists()
  # the user's own 100-class arrays, with their own noise: named by content, the noise counted
  assert provenance.startswith("my_100_classes (arrays, 512 train + 128 test images, 100 classes, ")
  assert "training labels given corrupted; sha256 " in provenance and "/" not in provenance.split(";")[0]
  saved = __import__("json").loads((tmp_path / "runs" / "my_100_classes" / "config.json").read_text())
  assert saved["num_classes"] == 100 and saved["config"]["data"]["name"] == "my_100_classes"


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
