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
  model_line, corrupted_line = out.stdout.strip().splitlines()[-2:]
  name, params, step = model_line.split()
  assert name == "tiny_convnet" and int(params) == 3 * 3 * 3 * 64 + 64 + 64 * 10 + 10 and int(step) == 30
  assert 0.85 < float(corrupted_line.split()[-1]) < 0.95  # random labels: 9 in 10 differ from the clean ones
  assert (tmp_path / "runs" / "tiny_convnet" / "summary.json").exists()


def test_register_refuses_the_papers_names_and_non_callables_and_validation_knows_new_names():
  import pytest
  from flax import nnx

  from rethink_jax import models
  from rethink_jax.configs import common, validate

  with pytest.raises(ValueError, match="must be a new, non-empty name"):
    models.register("alexnet_small", lambda **kw: None)
  with pytest.raises(TypeError, match="must be callable"):
    models.register("not_a_builder", 3)
  config = common.override(common.base_config(), model="my_registered_mlp")
  with pytest.raises(validate.ConfigError, match="config.model = 'my_registered_mlp': must be one of"):
    validate.check(config)
  models.register("my_registered_mlp", lambda **kw: models.MLP(depth=1, width=8, **kw))
  validate.check(config)
  assert "my_registered_mlp" in models.names() and "my_registered_mlp" not in models.NAMES
  net = models.create("my_registered_mlp", rngs=nnx.Rngs(0))
  assert models.count_params(net) == 28 * 28 * 3 * 8 + 8 + 8 * 10 + 10
