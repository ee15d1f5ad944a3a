"""Subset-trained runs: each run of a group trains on its own random subset, drawn once from its keys."""

import jax
import numpy as np
import pytest

from rethink_jax import data as data_lib, multirun, records, subsets, train, validation
from rethink_jax.configs import common, random_labels


def _base(**changes):
  c = random_labels.get_config("cpu")
  return common.override(c, **{"data.max_train": 512, "data.max_test": 100, "batch_size": 64, "num_epochs": 3.0,
                               "eval_every_steps": 4, "log_every_steps": 2, "checkpoint_every_steps": 4,
                               "stop_at_fit": False, "progress": False, "subset.ratio": 0.5, **changes})


def test_a_subset_is_a_pure_function_of_its_key_and_has_the_size_of_its_ratio():
  key = jax.random.key(3)
  a, b = np.asarray(subsets.draw_mask(key, 1000, 0.7)), np.asarray(subsets.draw_mask(key, 1000, 0.7))
  assert a.dtype == bool and a.sum() == 700 and (a == b).all()
  other = np.asarray(subsets.draw_mask(jax.random.key(4), 1000, 0.7))
  assert 0.4 < (a == other).mean() < 0.75  # two random 70% subsets agree on about 0.7^2 + 0.3^2 of the examples
  assert subsets.subset_size(10, 0.01) == 1 and subsets.subset_size(10, 1.0) == 10
  assert (subsets.mask_indices(a) == np.flatnonzero(a)).all()
  with pytest.raises(ValueError, match="ratio"):
    subsets.subset_size(10, 0.0)
  # the runs of a group share their label noise and differ in everything else
  k0, k1 = train.stream_keys(0, 0), train.stream_keys(0, 1)
  assert (jax.random.key_data(k0["corruption"]) == jax.random.key_data(k1["corruption"])).all()
  for name in ("init", "shuffle", "subset"):
    assert not (jax.random.key_data(k0[name]) == jax.random.key_data(k1[name])).all(), name
  assert all((jax.random.key_data(train.stream_keys(5)[n]) == jax.random.key_data(k)).all()
             for n, k in train.stream_keys(5, 0).items())


@pytest.mark.parametrize("n, ratio, error, match", [
    (10.7, 0.5, TypeError, r"n \(a number of examples\) must be an integer >= 1, got 10.7"),  # truncated before
    (True, 1.0, TypeError, r"n \(a number of examples\) must be an integer >= 1, got True"),
    (None, 0.5, TypeError, r"n \(a number of examples\) must be an integer >= 1, got None"),
    (0, 0.5, ValueError, r"n \(a number of examples\) must be an integer >= 1, got 0"),
    (10, "0.5", TypeError, "ratio must be a number"),  # read as 0.5 by draw_mask before
    (10, True, TypeError, "ratio must be a number"),
    (10, float("nan"), ValueError, r"ratio must be in \(0, 1\]"),
])
def test_bad_subset_sizes_are_one_clear_error(n, ratio, error, match):
  with pytest.raises(error, match=f"subset_size: {match}"):
    subsets.subset_size(n, ratio)
  with pytest.raises(error, match=f"draw_mask: {match}"):
    subsets.draw_mask(jax.random.key(0), n, ratio)


def test_vmapped_subset_runs_equal_the_same_runs_trained_alone(tmp_path):
  configs = [common.override(_base(), **{"subset.index": i}) for i in range(2)]
  many = multirun.train_many(configs, [tmp_path / f"v{i}" for i in range(2)], group_dir=tmp_path / "group")
  masks = []
  for i, cfg in enumerate(configs):
    alone = train.train_and_evaluate(cfg, tmp_path / f"s{i}")
    assert many[i]["step"] == alone["step"] == 3 * (256 // 64)  # epochs over the run's own 256 examples
    mask = records.read_subset(tmp_path / f"v{i}")
    assert mask.sum() == 256 and (mask == records.read_subset(tmp_path / f"s{i}")).all()
    masks.append(mask)
    a, b = records.read_predictions(tmp_path / f"v{i}"), records.read_predictions(tmp_path / f"s{i}")
    for key in records.PREDICTION_ARRAYS:
      np.testing.assert_allclose(a[key].astype(float), b[key].astype(float), atol=2e-3, err_msg=key)
    # the train accuracy is over the run's subset, the held-out accuracy over the rest
    rows = [r for r in records.read_jsonl(tmp_path / f"v{i}" / "metrics.jsonl") if "heldout_accuracy" in r]
    assert rows[-1]["train_accuracy"] == pytest.approx(a["train_correct"][mask].mean(), abs=1e-6)
    assert rows[-1]["heldout_accuracy"] == pytest.approx(a["train_correct"][~mask].mean(), abs=1e-6)
    assert a["train_correct"][mask].mean() > a["train_correct"][~mask].mean()  # random labels: fitted only in
  assert not (masks[0] == masks[1]).all()
  labels = [records.read_predictions(tmp_path / f"v{i}")["labels"] for i in range(2)]
  assert (labels[0] == labels[1]).all()  # one draw of label noise for the group


def test_a_subset_run_sees_the_batches_of_a_run_on_that_subset_alone(tmp_path):
  config = _base(**{"corruption.kind": "true_labels"})
  train.train_and_evaluate(config, tmp_path / "subset")
  mask = records.read_subset(tmp_path / "subset")
  full = train.load_dataset(config)
  idx = subsets.mask_indices(mask)
  mine = data_lib.from_arrays("the_subset", full.x_train[idx], full.y_train[idx], full.x_test, full.y_test,
                              num_classes=10)
  alone = common.override(config, **{"subset.ratio": 1.0, "data.source": "arrays", "data.name": "the_subset",
                                     "data.max_train": 0, "data.max_test": 0})
  train.train_and_evaluate(alone, tmp_path / "alone", dataset=mine)
  a, b = train.restore_state(tmp_path / "subset"), train.restore_state(tmp_path / "alone")
  assert int(a.step) == int(b.step) == 12
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_resume_keeps_the_subset_and_refuses_another(tmp_path):
  config = _base(num_epochs=1.0)
  train.train_and_evaluate(config, tmp_path / "run")
  first = records.read_subset(tmp_path / "run")
  train.train_and_evaluate(common.override(config, num_epochs=2.0), tmp_path / "run")  # a longer budget continues it
  assert (records.read_subset(tmp_path / "run") == first).all()
  assert int(records.read_predictions(tmp_path / "run")["step"]) == 8
  other = first.copy()
  other[np.argmax(first)], other[np.argmin(first)] = False, True
  (tmp_path / "tampered").mkdir()
  records.write_subset(tmp_path / "tampered", other, 0.5, 0)
  with pytest.raises(records.ConfigMismatchError, match="another training subset"):
    records.write_subset(tmp_path / "tampered", first, 0.5, 0)
  # a whole run directory holding another subset is refused before training
  (tmp_path / "run" / records.SUBSET).unlink()
  records.write_subset(tmp_path / "run", other, 0.5, 0)
  with pytest.raises(records.ConfigMismatchError, match="another training subset"):
    train.train_and_evaluate(common.override(config, num_epochs=3.0), tmp_path / "run")


def test_subset_settings_are_part_of_the_identity_and_checked(tmp_path):
  base = _base()
  hashes = {records.identity_hash(common.override(base, **{"subset.ratio": r, "subset.index": i}))
            for r in (0.5, 0.7) for i in (0, 1)}
  assert len(hashes) == 4
  assert records.identity_hash(common.override(base, **{"subset.ratio": 1.0})) == \
      records.identity_hash(common.override(base, **{"subset.ratio": 1.0, "subset.index": 0}))
  with pytest.raises(validation.ConfigError, match="subset.ratio"):
    validation.check(common.override(base, **{"subset.ratio": 0.0}))
  with pytest.raises(validation.ConfigError, match="each run's subset"):
    train.train_and_evaluate(common.override(base, **{"subset.ratio": 0.1, "batch_size": 64}), tmp_path / "small")
  assert not (tmp_path / "small").exists()
  (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 cut short")
  with pytest.raises(records.RecordError, match="bad.npz"):
    records.read_predictions(tmp_path / "bad.npz")
  with pytest.raises(records.RecordError, match="bad.npz"):
    records.read_subset(tmp_path / "bad.npz")


def test_draw_mask_names_a_bad_key():
  with pytest.raises(TypeError, match="draw_mask: key must be a jax.random.key"):
    subsets.draw_mask(0, 10, 0.5)
