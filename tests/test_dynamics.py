"""rethink_jax.dynamics on hand-made arrays whose answers are known, and examples.npz records."""

import jax
import numpy as np
import pytest

from rethink_jax import dynamics, records

# 5 evaluations x 6 examples; columns:
#   0 fitted at 1, kept           1 never fitted          2 fitted, forgotten, fitted for good at 3
#   3 fitted at 0, forgotten at 4  4 fitted at 0 and kept  5 fitted twice, forgotten twice
CORRECT = np.array([
    [0, 0, 1, 1, 1, 1],
    [1, 0, 0, 1, 1, 0],
    [1, 0, 1, 1, 1, 1],
    [1, 0, 1, 1, 1, 0],
    [1, 0, 1, 0, 1, 0],
], bool)
CORRUPTED = np.array([0, 1, 1, 0, 0, 1], bool)
CLEAN_PRED = np.array([
    [1, 1, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 1],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 1],
    [0, 0, 0, 1, 0, 1],
], bool)


def test_first_learned_and_learned_for_good():
  np.testing.assert_array_equal(dynamics.first_learned(CORRECT), [1, -1, 0, 0, 0, 0])
  np.testing.assert_array_equal(dynamics.learned_for_good(CORRECT), [1, -1, 2, -1, 0, -1])


def test_forgetting_events():
  np.testing.assert_array_equal(dynamics.forgetting_events(CORRECT), [0, 0, 1, 1, 0, 2])


def test_fraction_fitted_by_group():
  f = dynamics.fraction_fitted(CORRECT, CORRUPTED)
  np.testing.assert_allclose(f["all"], CORRECT.mean(axis=1))
  np.testing.assert_allclose(f["clean"], [2 / 3, 1, 1, 1, 2 / 3])       # columns 0, 3, 4
  np.testing.assert_allclose(f["corrupted"], [2 / 3, 0, 2 / 3, 1 / 3, 1 / 3])  # columns 1, 2, 5
  # no corrupted example (true labels): the corrupted curve is NaN, not 0
  assert np.isnan(dynamics.fraction_fitted(CORRECT, np.zeros(6, bool))["corrupted"]).all()


def test_clean_predictions_before_memorized():
  out = dynamics.clean_predictions_before_memorized(CORRECT, CLEAN_PRED, CORRUPTED)
  # column 1: never memorized, clean predicted at evaluations 0, 1, 3 of all 5; column 2: memorized
  # at 2, clean predicted at 1 of evaluations 0-1; column 5: never, clean at 1, 3, 4.
  np.testing.assert_array_equal(out["clean_predictions"], [0, 3, 1, 0, 0, 3])
  np.testing.assert_array_equal(out["evaluations"], [0, 5, 2, 0, 0, 5])
  assert float(out["rate"]) == pytest.approx(7 / 12)


def test_batched_and_jitted_equal_one_at_a_time():
  stacked = np.stack([CORRECT, ~CORRECT, CORRECT[::-1]])  # K = 3 runs
  for fn in (dynamics.first_learned, dynamics.learned_for_good, dynamics.forgetting_events):
    batched = jax.jit(fn)(stacked)
    for k in range(3):
      np.testing.assert_array_equal(batched[k], fn(stacked[k]))
  f = jax.jit(dynamics.fraction_fitted)(stacked, np.stack([CORRUPTED] * 3))
  np.testing.assert_allclose(f["corrupted"][1], dynamics.fraction_fitted(~CORRECT, CORRUPTED)["corrupted"])


def test_evaluation_epochs():
  epochs = dynamics.evaluation_epochs(np.array([0, 2, -1]), np.array([0, 390, 780]), 390)
  np.testing.assert_array_equal(epochs[:2], [0.0, 2.0])
  assert np.isnan(epochs[2])
  with pytest.raises(ValueError, match="beyond"):
    dynamics.evaluation_epochs(np.array([3]), np.array([0, 390, 780]), 390)


def test_bad_inputs_are_clear_errors():
  with pytest.raises(TypeError, match="bool"):
    dynamics.first_learned(CORRECT.astype(np.int32))
  with pytest.raises(ValueError, match="at least 2 axes"):
    dynamics.forgetting_events(CORRECT[0])
  with pytest.raises(ValueError, match="6 examples"):
    dynamics.fraction_fitted(CORRECT[:, :5], CORRUPTED)
  with pytest.raises(TypeError, match="corrupted must be a bool array, got NoneType"):
    dynamics.fraction_fitted(CORRECT, None)
  with pytest.raises(TypeError, match="correct must be a bool array, got <U"):
    dynamics.first_learned(np.array([["a", "b"]]))
  with pytest.raises(ValueError, match="evaluation_epochs: eval_steps holds NaN"):
    dynamics.evaluation_epochs(np.array([0, 1]), np.array([np.nan, 10.0]), 5)  # NaN: read as "never" before


def _static(n=6):
  labels = np.arange(n) % 3
  clean = np.where(CORRUPTED[:n], (labels + 1) % 3, labels)
  return {"corrupted": labels != clean, "labels": labels, "clean_labels": clean}


def test_examples_log_appends_cuts_back_on_resume_and_refuses_other_runs(tmp_path):
  path = tmp_path / records.EXAMPLES
  log = records.ExamplesLog(path, _static(), None)
  for t, step in enumerate((0, 10, 20, 30)):
    log.append(step, step / 10, {"correct": CORRECT[t], "pred_is_clean_label": CLEAN_PRED[t],
                                 "margin": np.linspace(-1, 1, 6) * t})
  assert len(records.read_examples(path)["eval_steps"]) == 0  # rows are written by flush (at checkpoints)
  log.flush()
  saved = records.read_examples(tmp_path)
  np.testing.assert_array_equal(saved["correct"], CORRECT[:4])
  assert saved["margin"].dtype == np.float16 and list(saved["eval_steps"]) == [0, 10, 20, 30]
  resumed = records.ExamplesLog(path, _static(), 20)  # restored from the checkpoint of step 20
  assert list(records.read_examples(path)["eval_steps"]) == [0, 10, 20]
  resumed.append(30, 3.0, {"correct": CORRECT[3], "pred_is_clean_label": CLEAN_PRED[3], "margin": np.zeros(6)})
  resumed.flush()
  np.testing.assert_array_equal(records.read_examples(path)["correct"], CORRECT[:4])
  other = _static()
  other["labels"] = other["labels"][::-1].copy()
  with pytest.raises(records.RecordError, match="other labels"):
    records.ExamplesLog(path, other, 20)
  with pytest.raises(ValueError, match="shape"):
    resumed.append(40, 4.0, {"correct": CORRECT[0, :5], "pred_is_clean_label": CLEAN_PRED[0], "margin": np.zeros(6)})


def test_corrupt_or_missing_examples_file_is_named(tmp_path):
  with pytest.raises(records.RecordError, match="track_examples"):
    records.read_examples(tmp_path / records.EXAMPLES)
  bad = tmp_path / records.EXAMPLES
  log = records.ExamplesLog(bad, _static(), None)
  log.append(0, 0.0, {"correct": CORRECT[0], "pred_is_clean_label": CLEAN_PRED[0], "margin": np.zeros(6)})
  log.flush()
  bad.write_bytes(bad.read_bytes()[:100])  # truncated
  with pytest.raises(records.RecordError, match=str(bad)):
    records.read_examples(bad)


def test_compact_examples_read_back_equal_without_margin_and_copy_records_keeps_them(tmp_path):
  rng = np.random.default_rng(0)
  n, t = 1003, 7  # n not a multiple of 8: the packed bits' padding must not show
  static = {"corrupted": rng.random(n) < 0.3, "labels": rng.integers(0, 10, n), "clean_labels": rng.integers(0, 10, n)}
  run = tmp_path / "src" / "run"
  run.mkdir(parents=True)
  log = records.ExamplesLog(run / records.EXAMPLES, static, None)
  for step in range(t):
    log.append(step * 5, step / 2, {"correct": rng.random(n) < 0.5, "pred_is_clean_label": rng.random(n) < 0.5,
                                    "margin": rng.normal(size=n)})
  log.flush()
  records.write_json(run / records.CONFIG, {"environment": {}})
  written = records.copy_records(tmp_path / "src", tmp_path / "kept")
  kept = tmp_path / "kept" / "run" / records.EXAMPLES
  assert kept in written and kept.stat().st_size < (run / records.EXAMPLES).stat().st_size / 4
  full, compact = records.read_examples(run), records.read_examples(kept)
  assert set(full) - set(compact) == {"margin"}
  for k, v in compact.items():
    np.testing.assert_array_equal(v, full[k])
    assert v.dtype == bool or k not in records.COMPACT_SERIES
  with pytest.raises(records.RecordError, match="compact copy"):
    records.ExamplesLog(kept, static, 10)


def test_shapes_that_would_broadcast_silently_are_refused():
  with pytest.raises(ValueError, match=r"corrupted must be \[\.\.\., n\] matching correct \(5, 6\)"):
    dynamics.fraction_fitted(CORRECT, CORRECT)  # [T, n] would broadcast to [T, T]
  with pytest.raises(ValueError, match=r"corrupted must be \[\.\.\., n\] matching correct \(5, 6\)"):
    dynamics.clean_predictions_before_memorized(CORRECT, CLEAN_PRED, np.stack([CORRUPTED] * 7))
  with pytest.raises(ValueError, match="corrupted has 5 examples but correct has 6"):
    dynamics.clean_predictions_before_memorized(CORRECT, CLEAN_PRED, CORRUPTED[:5])
  with pytest.raises(ValueError, match=r"correct has no evaluations \(shape \(0, 6\)"):
    dynamics.first_learned(CORRECT[:0])


@pytest.mark.parametrize("index, eval_steps, spe, error, match", [
    ([-5], [0, 10], 10, ValueError, "evaluation index -5 is invalid"),
    ([0.0], [0, 10], 10, TypeError, "index must hold integer"),
    ([True], [0, 10], 10, TypeError, "index must hold integer"),
    ([-1], [], 10, ValueError, "eval_steps must be a non-empty"),
    ([0], [[0, 10]], 10, ValueError, "eval_steps must be a non-empty"),
    ([0], ["a", "b"], 10, TypeError, "eval_steps must hold steps"),
    ([0], [0, 10], float("nan"), ValueError, "steps_per_epoch must be a positive number"),
    ([0], [0, 10], "10", TypeError, "steps_per_epoch must be a positive number"),
])
def test_evaluation_epochs_refuses_bad_indices_steps_and_epochs(index, eval_steps, spe, error, match):
  with pytest.raises(error, match=match):
    dynamics.evaluation_epochs(np.array(index), np.array(eval_steps), spe)
