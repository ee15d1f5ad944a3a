"""One home per config key: rethink_jax/configs/schema.py declares each key once."""

import ast
import pathlib
import re

from rethink_jax import records
from rethink_jax.configs import common, imagenet, random_labels, schema
from rethink_jax import validation

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "rethink_jax"


def test_run_configs_hold_every_declared_key_at_its_default_and_nothing_else():
  assert schema.flatten(common.base_config().to_dict()) == {k: key.default for k, key in schema.RUN.items()}
  assert set(schema.flatten(imagenet.get_config("none").to_dict())) == set(schema.IMAGENET)
  for table in (schema.RUN, schema.IMAGENET, schema.SWEEP):
    for name, key in table.items():
      assert key.meaning and schema.describe(name), name
      validation.check_value(name, key.default, key.rule, "imagenet" if table is schema.IMAGENET else "single")


def test_sweep_entries_are_declared_and_checked():
  from rethink_jax.configs import fitting_curves, label_corruption, memorization, table1

  for module in (fitting_curves, label_corruption, memorization, table1):
    for preset in module.PRESETS:
      config = module.get_config(preset)
      assert {f"sweep.{k}" for k in config.sweep} <= set(schema.SWEEP), module.__name__
      validation.check_sweep(config)
  config = label_corruption.get_config("cpu")
  assert schema.setting(config, "sweep.paper_lr") is schema.SWEEP["sweep.paper_lr"].default  # not set: declared
  config.sweep.levels = (0.1, 1.5)
  try:
    validation.check_sweep(config)
  except validation.ConfigError as e:
    assert "sweep.levels" in str(e) and "1.5" in str(e)
  else:
    raise AssertionError("a level above 1 was accepted")
  config = table1.get_config("cpu")
  config.sweep.modles = ("mlp_1x512",)
  try:
    validation.check_sweep(config)
  except validation.ConfigError as e:
    assert "did you mean sweep.models" in str(e)
  else:
    raise AssertionError("an undeclared sweep entry was accepted")


def test_the_schema_keeps_every_recorded_identity():
  # The README's run directory of `make run`, recorded before the schema existed.
  assert records.identity_hash(random_labels.get_config("cpu")) == "61eb2a6673"
  assert set(records.HOW_KEYS) >= {"num_epochs", "eval_every_steps", "log_every_steps", "checkpoint_every_steps",
                                   "stop_at_fit", "eval_at_start", "progress", "workdir", "keep_checkpoints",
                                   "conv_impl", "wandb", "data.num_threads", "track_examples"}


def test_a_record_from_before_a_key_existed_is_completed_from_its_declared_default():
  old = common.base_config().to_dict()
  del old["conv_impl"], old["eval_at_start"]
  done = schema.complete(old)
  assert done.conv_impl == schema.RUN["conv_impl"].default and done.eval_at_start is True
  assert schema.setting(imagenet.get_config("none"), "fit_threshold") == schema.RUN["fit_threshold"].default


def test_no_default_is_restated_and_the_schema_imports_nothing_of_the_library():
  # `x.get("key", default)` where key is (the last part of) a declared key and default its declared default
  defaults = {}
  for table in (schema.RUN, schema.IMAGENET, schema.SWEEP):
    for name, key in table.items():
      defaults.setdefault(name.split(".")[-1], set()).add(repr(key.default))
  restated = []
  for path in PACKAGE.rglob("*.py"):
    for m in re.finditer(r'\.get\("([a-z_.]+)", ([^()]*?)\)', path.read_text()):
      key, value = m.group(1).split(".")[-1], m.group(2).strip()
      try:
        value = repr(ast.literal_eval(value))
      except (ValueError, SyntaxError):
        continue
      if value in defaults.get(key, ()):
        restated.append(f"{path.relative_to(PACKAGE)}: {m.group(0)}")
  assert not restated, restated
  tree = ast.parse((PACKAGE / "configs" / "schema.py").read_text())
  imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
      {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
  assert not any(m and m.startswith("rethink_jax") for m in imported), imported


def test_the_docs_key_table_is_the_schemas():
  text = (PACKAGE.parent / "docs" / "experiments.md").read_text()
  shown = text.split("<!-- config keys: begin -->\n", 1)[1].split("<!-- config keys: end -->", 1)[0]
  assert shown == schema.key_table(), ("docs/experiments.md's key table differs from rethink_jax/configs/schema.py; "
                                       "paste schema.key_table() between its markers")
  shown = text.split("<!-- sweep keys: begin -->\n", 1)[1].split("<!-- sweep keys: end -->", 1)[0]
  assert shown == schema.key_table(schema.SWEEP), "docs/experiments.md's sweep table: paste schema.key_table(schema.SWEEP)"


def test_configs_import_nothing_that_trains_loads_data_or_plots():
  """configs/ is data at the bottom of the import graph: it may import itself and the paper's facts only."""
  allowed = ("rethink_jax.configs", "rethink_jax.paper")
  for path in sorted((PACKAGE / "configs").glob("*.py")):
    tree = ast.parse(path.read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    inner = {f"{m}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "rethink_jax"
             for m, a in [(n.module, a) for a in n.names]}
    ours = {m for m in imported | inner if m.startswith("rethink_jax") and m != "rethink_jax"}
    assert all(m.startswith(allowed) for m in ours), (path.name, sorted(ours))
  paper = ast.parse((PACKAGE / "paper.py").read_text())
  assert not [n for n in ast.walk(paper) if isinstance(n, (ast.Import, ast.ImportFrom))
              and "rethink_jax" in (getattr(n, "module", "") or "")]
