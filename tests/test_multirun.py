"""K runs as one vmapped program equal the same runs trained alone."""

import numpy as np
import pytest

from rethink_jax import data as data_lib, multirun, records, sweep, train
from rethink_jax.configs import common, label_corruption


def _base(**changes):
  c = common.run_base(label_corruption.get_config("cpu"))
  return common.override(c, **{"data.max_train": 256, "data.max_test": 100, "batch_size": 64, "num_epochs": 3.0,
                               "eval_every_steps": 4, "log_every_steps": 2, "checkpoint_every_steps": 6,
                               "stop_at_fit": False, **changes})


def _runs(base):
  return [common.override(base, **{"corruption.kind": "partial_labels", "corruption.p": p, "seed": s})
          for p, s in ((0.0, 0), (0.5, 0), (1.0, 1))]


def _assert_same_records(a_dir, b_dir):
  a, b = records.read_jsonl(a_dir / "metrics.jsonl"), records.read_jsonl(b_dir / "metrics.jsonl")
  assert [r["step"] for r in a] == [r["step"] for r in b]
  for ra, rb in zip(a, b):
    for key in ("batch_loss", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "batch_accuracy"):
      assert (key in ra) == (key in rb)
      if key in ra:
        assert ra[key] == pytest.approx(rb[key], rel=1e-5, abs=1e-6), (key, ra["step"])


def test_vmapped_runs_equal_runs_trained_alone(tmp_path):
  configs = _runs(_base(track_examples=True))
  many = multirun.train_many(configs, [tmp_path / f"v{i}" for i in range(3)], group_dir=tmp_path / "group")
  for i, cfg in enumerate(configs):
    alone = train.train_and_evaluate(cfg, tmp_path / f"s{i}")
    _assert_same_records(tmp_path / f"v{i}", tmp_path / f"s{i}")
    assert many[i]["step"] == alone["step"] and many[i]["corruption"] == alone["corruption"]
    assert records.read_json(tmp_path / f"v{i}" / "config.json")["config"] == cfg.to_dict()
    # per-example records: each run its own file, the same as the run trained alone
    ev, es = records.read_examples(tmp_path / f"v{i}"), records.read_examples(tmp_path / f"s{i}")
    for key in ("eval_steps", "corrupted", "labels", "clean_labels"):
      np.testing.assert_array_equal(ev[key], es[key])
    assert (ev["correct"] != es["correct"]).mean() < 1e-3  # float rounding may flip a near-tie
    np.testing.assert_allclose(ev["margin"], es["margin"], atol=2e-2)
    assert ev["correct"][-1].mean() == pytest.approx(many[i]["train_accuracy"], abs=1e-6)
    assert ev["corrupted"].mean() == pytest.approx(many[i]["corruption"]["fraction_changed"])
    assert list(ev["eval_steps"]) == [r["step"] for r in records.read_jsonl(tmp_path / f"v{i}" / "metrics.jsonl")
                                      if "train_accuracy" in r]
  # the runs really differ (labels and seeds), so equality above is not trivial
  assert len({round(s["train_loss"], 6) for s in many}) == 3


def test_each_vmapped_run_stops_at_its_own_fit(tmp_path):
  configs = _runs(_base(**{"stop_at_fit": True, "fit_threshold": 0.6, "num_epochs": 12.0}))
  many = multirun.train_many(configs, [tmp_path / f"v{i}" for i in range(3)], group_dir=tmp_path / "group")
  fits = []
  for i, cfg in enumerate(configs):
    alone = train.train_and_evaluate(cfg, tmp_path / f"s{i}")
    assert many[i]["time_to_fit"]["step"] == alone["time_to_fit"]["step"]
    assert many[i]["step"] == alone["step"] == alone["time_to_fit"]["step"]
    _assert_same_records(tmp_path / f"v{i}", tmp_path / f"s{i}")
    fits.append(alone["time_to_fit"]["step"])
  assert len(set(fits)) > 1  # the runs stopped at different steps


def test_vmapped_group_resumes_from_its_checkpoint(tmp_path):
  configs = _runs(_base(num_epochs=1.5))
  multirun.train_many(configs, [tmp_path / f"v{i}" for i in range(3)], group_dir=tmp_path / "group")
  longer = [common.override(c, num_epochs=3.0) for c in configs]
  multirun.train_many(longer, [tmp_path / f"v{i}" for i in range(3)], group_dir=tmp_path / "group")
  multirun.train_many(longer, [tmp_path / f"w{i}" for i in range(3)], group_dir=tmp_path / "other")
  for i in range(3):
    resumed = records.read_jsonl(tmp_path / f"v{i}" / "metrics.jsonl")
    straight = {r["step"]: r for r in records.read_jsonl(tmp_path / f"w{i}" / "metrics.jsonl")}
    assert [r["step"] for r in resumed if r["step"] in straight] == sorted(straight)
    for row in resumed:  # the resumed group also evaluated where the short run ended (step 6)
      for key in set(row) & set(straight.get(row["step"], {})) - set(records.TIMING_KEYS):
        assert row[key] == pytest.approx(straight[row["step"]][key], rel=1e-6), (key, row["step"])


def test_incompatible_runs_are_refused(tmp_path):
  base = _base()
  with pytest.raises(ValueError, match="optim.lr"):
    multirun.check_compatible([base, common.override(base, **{"optim.lr": 0.1})])
  with pytest.raises(ValueError, match="shares the input images"):
    multirun.check_compatible([common.override(base, **{"corruption.kind": "random_pixels"})])


def test_label_corruption_sweep_uses_one_program_and_seeds(tmp_path):
  c = _base(num_epochs=1.0)
  c.sweep = label_corruption.get_config("cpu").sweep
  c.sweep.levels, c.sweep.seeds = (0.0, 1.0), (0, 1)
  runs = label_corruption.build_runs(c)
  assert sorted(runs) == ["p0.00-seed0", "p0.00-seed1", "p1.00-seed0", "p1.00-seed1"]
  out = sweep.run_sweep(runs, tmp_path, vmapped=True)
  assert all(s["vmapped_runs"] == 4 for s in out.values())
  again = sweep.run_sweep(runs, tmp_path, vmapped=True)  # finished: skipped, nothing retrained
  pick = lambda d: {n: (s["step"], s["train_accuracy"], s["test_accuracy"]) for n, s in d.items()}
  assert pick(again) == pick(out)


def test_cifar10n_variants_train_as_one_vmapped_program(tmp_path, shared_data):
  """CIFAR-10N human labels through the engine: a file in the published layout (built here
  from the canonical labels), two variants in one vmapped program, each run its own record."""
  import pickle
  import zipfile

  from rethink_jax import corruptions, data

  full = data.load("cifar10", source="files", data_dir=str(shared_data("cifar10.npz").parent))
  rng = np.random.default_rng(0)
  clean = full.y_train.astype(np.int64)
  noisy = lambda q: np.where(rng.random(len(clean)) < q, rng.integers(0, 10, len(clean)), clean)
  table = {"clean_label": clean, **{key: noisy(q) for key, q in zip(data_lib.CIFAR10N_VARIANTS.values(),
                                                                    (0.1, 0.2, 0.2, 0.2, 0.4))}}
  path = tmp_path / "CIFAR-10_human.pt"
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("CIFAR-10_human/data.pkl", pickle.dumps(table, protocol=2))
  base = _base(**{"data.source": "files", "data.data_dir": str(shared_data("cifar10.npz").parent),
                  "num_epochs": 1.0, "corruption.kind": "cifar10n", "corruption.labels_file": str(path),
                  "track_examples": True})
  configs = [common.override(base, **{"corruption.variant": v}) for v in ("aggregate", "worst")]
  many = multirun.train_many(configs, [tmp_path / v for v in ("aggregate", "worst")], group_dir=tmp_path / "g")
  for variant, summary in zip(("aggregate", "worst"), many):
    key = data_lib.CIFAR10N_VARIANTS[variant]
    ex = records.read_examples(tmp_path / variant)
    np.testing.assert_array_equal(ex["labels"], table[key][:256])
    np.testing.assert_array_equal(ex["corrupted"], table[key][:256] != clean[:256])
    assert summary["corruption"]["variant"] == variant and len(summary["corruption"]["labels_file_sha256"]) == 64
