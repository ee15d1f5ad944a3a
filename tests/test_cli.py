"""The command line of every experiment: --help lists its config keys, --config is found from
any working directory, --dry_run writes nothing."""

import os
import pathlib
import subprocess
import sys

import pytest
from helpers import cli_batch

from rethink_jax.configs import schema

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (REPO / "experiments").glob("*.py"))


def _run_all(cwd, *calls):
  """Several ``(script, *args)`` calls, each its own process (one import for all; helpers/cli_batch.py)."""
  return cli_batch.run([([REPO / "experiments" / f"{script}.py", *args], cwd) for script, *args in calls])


def _run(script, *args, cwd):
  env = dict(os.environ, PYTHONPATH=str(REPO))
  return subprocess.run([sys.executable, str(REPO / "experiments" / f"{script}.py"), *args], capture_output=True,
                        text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def helps(tmp_path_factory):
  """Every script's --help, each in its own process and empty directory (helpers/cli_batch.py)."""
  argvs = [[REPO / "experiments" / f"{script}.py", "--help"] for script in SCRIPTS]
  return dict(zip(SCRIPTS, cli_batch.run_in_new_dirs(argvs, tmp_path_factory, "help")))


def test_the_batch_runner_gives_what_a_fresh_process_gives(tmp_path):
  """helpers/cli_batch.py, which the CLI tests use, against a plain subprocess: same output and status."""
  cases = (("--help",), ("--config.model=alexnet", "--dry_run"), ("--config.model=mlp_1x512", "--dry_run"))
  batched = cli_batch.run([([REPO / "experiments" / "table1.py", *args], tmp_path) for args in cases])
  for args, b in zip(cases, batched):
    fresh = _run("table1", *args, cwd=tmp_path)
    assert (b.returncode, b.stdout, b.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr), args
  assert [b.returncode for b in batched] == [0, 2, 0] and "dry run" in batched[2].stdout


@pytest.mark.xdist_group("cli_helps")
@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_presets_every_config_key_and_an_example(helps, script):
  out, tmp_path = helps[script]
  assert out.returncode == 0, out.stderr[-2000:]
  text = out.stdout
  assert "Presets: --config rethink_jax/configs/" in text and "Config keys (--config.KEY=VALUE)" in text
  entries = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and not line.startswith("  --")
             and not line.strip().startswith("python ")]
  assert "data.source" in entries and "data.data_dir" in entries  # one schema: data.* everywhere
  for key in entries:  # every key has its meaning
    assert schema.describe(key), f"{script}: config key {key} has no meaning in rethink_jax/configs/schema.py"
  assert "  --dry_run:" in text and "  --workdir:" in text
  example = text.split("Example:\n")[1].strip()
  assert example.startswith(f"python experiments/{script}.py") and "  " not in example
  assert not any(tmp_path.iterdir())


def _keys(config, prefix=""):
  out = set()
  for key, value in config.items():
    out |= _keys(value, f"{prefix}{key}.") if hasattr(value, "items") else {prefix + key}
  return out


SWEEPS = ("table1", "fitting_curves", "label_corruption", "implicit_regularization", "memorization")


@pytest.mark.parametrize("name", SWEEPS)
def test_a_sweep_takes_the_single_run_schema_plus_its_sweep_entries(name):
  import importlib

  from rethink_jax.configs import common, random_labels

  single = _keys(random_labels.get_config("cpu"))
  module = importlib.import_module(f"rethink_jax.configs.{name}")
  assert {"cpu", "paper"} <= set(module.PRESETS)
  for preset in module.PRESETS:
    c = module.get_config(preset)
    own = {k for k in _keys(c) if k.startswith("sweep.")}
    assert own and _keys(c) - own == single, (preset, sorted(_keys(c) ^ single - own))
    runs = module.build_runs(c)
    assert runs and all(_keys(cfg) == single for cfg, _ in runs.values())  # each run: a single run's config
    assert all(cfg.model for cfg, _ in runs.values())
  # --config.model names one model of a sweep over models (or the model of any other sweep)
  c = common.override(module.get_config("cpu"), model="alexnet_small")
  assert {cfg.model for cfg, _ in module.build_runs(c).values()} == {"alexnet_small"}


@pytest.mark.parametrize("name", ("minnorm_mnist", "minnorm_cifar", "theorem1"))
def test_min_norm_and_theorem1_configs_share_the_data_entries_and_presets(name):
  import importlib

  module = importlib.import_module(f"rethink_jax.configs.{name}")
  assert {"cpu", "paper"} <= set(module.PRESETS)
  cpu, paper = module.get_config("cpu"), module.get_config("paper")
  assert {"data.name", "data.source", "data.data_dir"} <= _keys(cpu)
  assert (cpu.data.source, paper.data.source) == ("sample", "files")
  assert module.get_config("full").to_dict() == paper.to_dict()  # 'full': the older name of 'paper'


def test_a_bad_model_in_a_sweep_is_one_line_and_exit_2(tmp_path):
  model_sweeps = ("table1", "implicit_regularization", "memorization")  # the others sweep kinds or levels
  jobs = [([REPO / "experiments" / f"{name}.py", "--config.model=alexnet", "--dry_run"], tmp_path) for name in SWEEPS]
  jobs += [([REPO / "experiments" / f"{name}.py", "--config.sweep.models=()", "--dry_run"], tmp_path)
           for name in model_sweeps]
  for (argv, _), out in zip(jobs, cli_batch.run(jobs)):
    where = f"{argv[0].name} {argv[1]}"
    message = ("error: config.model = 'alexnet': must be one of" if "model=" in argv[1] else
               "error: config.sweep.models = (): must name at least one model")
    assert out.returncode == 2 and out.stderr.startswith(message), (where, out.stderr[-500:])
    assert len(out.stderr.strip().splitlines()) == 1 and not out.stdout, where
  assert not any(tmp_path.iterdir())


def test_documented_config_path_and_short_form_work_from_any_directory(tmp_path):
  configs = ("rethink_jax/configs/random_labels.py:paper", "random_labels:paper")
  *singles, sweep = _run_all(tmp_path, *[("random_labels", "--config", config, "--config.model=alexnet_small",
                                         "--dry_run") for config in configs],
                             ("label_corruption", "--config=label_corruption", "--config.sweep.levels=(0.0,0.5)",
                              "--dry_run"))
  for out in singles:
    assert out.returncode == 0, out.stderr[-2000:]
    assert "  model = 'alexnet_small'" in out.stdout and "  data.source = 'files'" in out.stdout
    assert "run directory runs/random_labels/alexnet_small-random_labels-files-seed0-" in out.stdout
    assert out.stdout.rstrip().endswith("dry run: nothing was trained or written.")
  assert sweep.returncode == 0, sweep.stderr[-2000:]
  assert "sweep directory runs/label_corruption (figure1bc, 2 runs" in sweep.stdout
  assert "runs/label_corruption/p0.50" in sweep.stdout
  assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_bad_config_path_or_value_in_a_dry_run_is_one_line_and_exit_2(tmp_path):
  missing, bad = _run_all(tmp_path, ("random_labels", "--config", "configs/nope.py"),
                         ("random_labels", "--config.batch_size=0", "--dry_run"))
  assert missing.returncode == 2 and missing.stderr.startswith("error: config file configs/nope.py not found")
  assert len(missing.stderr.strip().splitlines()) == 1
  assert bad.returncode == 2 and bad.stderr.strip() == "error: config.batch_size = 0: must be a positive integer."
  assert not any(tmp_path.iterdir())


def test_table1_rows_select_some_rows_and_refuse_unknown_ones():
  from rethink_jax import validation
  from rethink_jax.configs import common, table1

  c = common.override(table1.get_config("paper"), model="alexnet_small",
                      **{"sweep.rows": ("crop0-wd0", "random_labels")})
  runs = table1.build_runs(c)
  assert sorted(runs) == ["alexnet_small-crop0-wd0", "alexnet_small-random_labels"]
  full = table1.build_runs(common.override(c, **{"sweep.rows": ()}))
  assert len(full) == 5
  # the same run, whichever rows are selected: its config (hence its directory and identity) is unchanged
  assert runs["alexnet_small-crop0-wd0"][0].to_dict() == full["alexnet_small-crop0-wd0"][0].to_dict()
  for rows, message in ((("crop0-wd2",), "'crop0-wd2' is not a row"),
                        (("crop1-wd0",), "no row of it exists for mlp_1x512")):
    with pytest.raises(validation.ConfigError, match=message):
      table1.build_runs(common.override(c, model="mlp_1x512", **{"sweep.rows": rows}))
  with pytest.raises(validation.ConfigError, match="Appendix presets take none"):
    table1.build_runs(common.override(table1.get_config("appendix_cpu"), **{"sweep.rows": ("crop0-wd0",)}))


def test_a_sweep_refuses_a_single_runs_workdir(tmp_path):
  for out in _run_all(tmp_path, *[("label_corruption", "--config.workdir=mine", "--config.sweep.levels=(0.0,)", *args)
                                  for args in (("--dry_run",), ())]):
    assert out.returncode == 2 and out.stderr.strip() == (
        "error: config.workdir = 'mine': a sweep's directory is --workdir (default runs/label_corruption); "
        "--config.workdir names a single run's.")
  assert not any(tmp_path.iterdir())


MISTAKES = [  # (script, args, the start of the one error line): each fails on its own, before anything is written
    ("random_labels", ("model=alexnet_small",), "error: unexpected argument 'model=alexnet_small': every setting is "
                                                "a flag, --name=value (a config entry is --config.model=alexnet_small)"),
    ("random_labels", ("--config", "broken.py"), "error: config file broken.py, line 1: invalid syntax"),
    ("random_labels", ("--config", "random_labels:nope"), "error: config file "),
    ("table1", ("--config", "random_labels:cpu"), "error: --config "),
    ("random_labels", ("--config", "table1:cpu"), "error: --config "),
    ("random_labels", ("--config.data.crop=40",), "error: config.data.crop = 40: must be at most the images' size, "
                                                  "32x32."),
    ("random_labels", ("--config.data.max_train=99999",), "error: config.data.max_train = 99999: must be at most the "
                                                          "2,000 training examples"),
    ("random_labels", ("--config.corruption.p=0.5",), "error: config.corruption.p = 0.5: must be 0.0 with "
                                                      "corruption.kind = 'random_labels'"),
    ("random_labels", ("--config.data.data_dir=/data",), "error: config.data.data_dir = '/data': must be '' with "
                                                          "data.source = 'sample'"),
    ("gaussian", ("--config.corruption.corrupt_test=True",), "error: config.corruption.corrupt_test = True: must be "
                                                             "False with corruption.kind = 'gaussian'"),
    ("random_labels", ("--config.corruption.kind=random_label",), "error: config.corruption.kind = 'random_label': "
                                                                  "must be one of"),
    ("table1", ("--config.optim.lr=0.1", "--config.model=alexnet_small"), "error: config.optim.lr = 0.1 is not used "
                                                                          "while config.sweep.paper_lr is True"),
    ("fitting_curves", ("--only", "random_label"), "error: --only random_label: no run of that name in this sweep; "
                                                   "its runs are gaussian, random_labels, random_pixels,"),
    ("fitting_curves", ("--only", "random_label", "--dry_run"), "error: --only random_label: no run of that name"),
]


def test_every_mistake_is_one_line_exit_2_and_writes_nothing(tmp_path):
  (tmp_path / "broken.py").write_text("def get_config(:\n")
  outs = _run_all(tmp_path, *[(script, *args, "--workdir", "w") for script, args, _ in MISTAKES])
  for (script, args, start), out in zip(MISTAKES, outs):
    where = f"{script} {' '.join(args)}"
    assert out.returncode == 2 and out.stderr.startswith(start), (where, out.stderr[-800:])
    assert len(out.stderr.strip().splitlines()) == 1, (where, out.stderr[-800:])
  assert "Unknown preset 'nope'; choose 'cpu' or 'paper'." in outs[2].stderr
  assert "is a single run's config; table1.py runs a sweep" in outs[3].stderr
  assert "is a sweep's config; random_labels.py trains one run" in outs[4].stderr
  assert "(did you mean 'random_labels'?)" in outs[10].stderr
  assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.py"]  # nothing written, no run directory left
