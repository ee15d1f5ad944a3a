"""Random-patch features (rethink_jax.minnorm.patches): each stage against a NumPy reference, the blocked Gram
against the materialized features, the resumable accumulation, and the command end to end."""

import json
import pathlib
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from rethink_jax import data, report
from rethink_jax.minnorm import patches

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = dict(filter_block=10, whiten_patches=2000)  # 24 filters: blocks of 10, 10 and 4


@pytest.fixture(scope="module")
def cifar():
  return data.load("cifar10")


def test_patch_positions_follow_the_key_and_patches_are_the_windows_there(cifar):
  key = jax.random.key(3)
  images = cifar.x_train[:7]
  image, row, col = (np.asarray(a) for a in patches.patch_positions(key, 50, 7, 32, 32, 6))
  for i, (got, hi) in enumerate([(image, 7), (row, 27), (col, 27)]):  # the documented streams
    np.testing.assert_array_equal(got, np.asarray(jax.random.randint(jax.random.fold_in(key, i), (50,), 0, hi)))
    assert got.min() >= 0 and got.max() < hi
  assert len(set(zip(image, row, col))) > 40  # positions vary
  got = np.asarray(patches.sample_patches(key, images, 50, 6))
  want = np.stack([images[i, r:r + 6, c:c + 6, :].reshape(-1) for i, r, c in zip(image, row, col)])
  np.testing.assert_array_equal(got, want.astype(np.float32))  # (row, column, channel) order, 0-255 scale
  np.testing.assert_array_equal(got, np.asarray(patches.sample_patches(key, images, 50, 6)))
  assert not np.array_equal(got, np.asarray(patches.sample_patches(jax.random.key(4), images, 50, 6)))


def test_normalize_patches_matches_numpy():
  p = np.random.default_rng(0).uniform(0, 255, size=(20, 108))
  p[0] = 7.0  # a constant patch: 0 after centring, no division by zero
  want = np.stack([(q - q.mean()) / np.sqrt(np.var(q) + 10.0) for q in p])
  np.testing.assert_allclose(patches.normalize_patches(p, 10.0), want, rtol=1e-12)
  np.testing.assert_allclose(np.asarray(patches.normalize_patches(jax.numpy.asarray(p, np.float32), 10.0)), want,
                             rtol=1e-5, atol=1e-6)
  assert not np.any(patches.normalize_patches(p, 10.0)[0])


def test_zca_whitener_matches_an_svd_reference_and_whitens(cifar):
  z = patches.normalize_patches(np.asarray(patches.sample_patches(jax.random.key(0), cifar.x_train, 20000, 6),
                                           np.float64), 10.0)
  d = z.shape[1]
  for eps in (0.1, 1e-5):
    w = patches.fit_whitener(z, eps)
    centred = z - z.mean(axis=0)  # reference: the SVD of the data, not the eigenpairs of the covariance
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(w.mean, z.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(w.matrix, (vt.T / np.sqrt(s ** 2 / len(z) + eps)) @ vt, rtol=1e-7,
                               atol=1e-7 * np.abs(w.matrix).max())
  # The whitened covariance: normalized patches sum to zero, so the constant direction has variance 0 and stays
  # 0; every other eigenvalue lambda becomes lambda / (lambda + eps), so the distance to the projector
  # I - 11^T/d is eps / (lambda_min + eps) for the smallest nonzero lambda (2.7e-4 for these patches): with
  # eps = 1e-5 at most 0.036, hence the tolerance 0.05; with eps = 0.1 most directions are shrunk (no test).
  lam = np.linalg.eigvalsh(np.cov(z.T, bias=True))
  assert lam[0] < 1e-12 and lam[1] > 2e-4
  cov = np.cov(patches.whiten(z, w).T, bias=True)
  projector = np.eye(d) - np.ones((d, d)) / d
  assert np.linalg.norm(cov - projector, 2) < 0.05
  eig = np.linalg.eigvalsh(cov)
  assert abs(eig[0]) < 1e-9 and eig[1] > 0.95 and eig[-1] < 1 + 1e-9


def test_folded_filters_equal_normalizing_and_whitening_every_image_patch(cifar):
  images = cifar.x_train[10:13, 3:15, 5:17]  # three 12x12 crops: 7x7 positions of 6x6 patches
  whitener = patches.fit_whitener(patches.normalize_patches(
      np.asarray(patches.sample_patches(jax.random.key(1), cifar.x_train, 5000, 6), np.float64), 10.0), 0.1)
  filters, bias = patches.random_patch_filters(jax.random.key(2), cifar.x_train, 9, whitener, size=6, norm_eps=10.0)
  raw = np.asarray(patches.sample_patches(jax.random.key(2), cifar.x_train, 9, 6), np.float64)
  bank = patches.filter_bank(raw, whitener, 10.0)
  np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, rtol=1e-12)  # unit norm
  want_bank = np.stack([v / np.linalg.norm(v) for v in
                        (patches.normalize_patches(raw, 10.0) - whitener.mean) @ whitener.matrix])
  np.testing.assert_allclose(bank, want_bank, rtol=1e-12)
  want = np.empty((3, 7, 7, 9))  # every patch normalized, whitened, dotted with the bank: no folding
  for n in range(3):
    for r in range(7):
      for c in range(7):
        p = images[n, r:r + 6, c:c + 6].reshape(-1).astype(np.float64)
        want[n, r, c] = bank @ patches.whiten(patches.normalize_patches(p, 10.0), whitener)
  x = patches.prepare_images(images)
  inv_std = patches.local_inv_std(x, 6, 10.0)
  got = np.asarray(patches.patch_responses(x, inv_std, filters, bias))
  np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())
  # A whitener fitted on normalized patches maps the constant direction to itself, so its filters already sum
  # to zero; the folding must hold for any whitener (here a random symmetric one) too.
  rng = np.random.default_rng(0)
  a = rng.normal(size=(108, 108)) / 10
  other = patches.Whitener(rng.normal(size=108), a + a.T)
  bank = patches.filter_bank(raw, other, 10.0)
  centred, bias = patches.fold_filters(bank, other)
  for n, r, c in [(0, 0, 0), (1, 3, 5), (2, 6, 6)]:
    p = images[n, r:r + 6, c:c + 6].reshape(-1).astype(np.float64)
    want = bank @ patches.whiten(patches.normalize_patches(p, 10.0), other)
    np.testing.assert_allclose(centred @ p / np.sqrt(np.var(p) + 10.0) - bias, want, rtol=1e-9, atol=1e-9)


def test_symmetric_rectifier_and_pooling_match_numpy():
  rng = np.random.default_rng(0)
  r = rng.normal(size=(2, 27, 27, 3)).astype(np.float32)
  y = np.asarray(patches.symmetric_rectify(r, 0.25))
  np.testing.assert_array_equal(y, np.concatenate([np.maximum(r - 0.25, 0), np.maximum(-r - 0.25, 0)], axis=-1))
  assert [patches.pool_geometry(m, k) for m, k in ((27, 2), (27, 3), (28, 2), (5, 5), (27, 1))] == \
      [(14, 13), (9, 9), (14, 14), (1, 1), (27, 27)]  # 27 and 2: KeystoneML's pool 14, stride 13
  for k in (2, 3):
    pool, stride = patches.pool_geometry(27, k)
    want = np.array([[[y[n, i * stride:i * stride + pool, j * stride:j * stride + pool].mean(axis=(0, 1))
                       for j in range(k)] for i in range(k)] for n in range(2)])
    np.testing.assert_allclose(np.asarray(patches.pool_regions(y, k)), want, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="regions must be in"):
    patches.pool_geometry(27, 28)


def test_patch_features_orders_regions_signs_filters_and_standardize_stats_match_numpy(cifar):
  x = patches.prepare_images(cifar.x_train[:4])
  inv_std = patches.local_inv_std(x, 6, 10.0)
  w = patches.random_patch_whitener(jax.random.key(0), cifar.x_train, whiten_patches=2000)
  filters, bias = patches.random_patch_filters(jax.random.key(5), cifar.x_train, 5, w)
  for k in (2, 3):  # the rectified halves are pooled apart: the same numbers as the stages composed
    f = np.asarray(patches.patch_features(x, inv_std, filters, bias, 0.25, k))
    y = patches.pool_regions(patches.symmetric_rectify(patches.patch_responses(x, inv_std, filters, bias), 0.25), k)
    assert f.shape == (4, k * k * 2 * 5)
    np.testing.assert_allclose(f.reshape(4, k, k, 2, 5), np.asarray(y).reshape(4, k, k, 2, 5), rtol=1e-6)
  g = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32) * 3 + 1
  g[:, 2] = 4.0  # constant: scale 0
  mean, scale = patches.standardize_stats(g, chunk=128)
  np.testing.assert_allclose(mean, g.astype(np.float64).mean(axis=0), rtol=1e-12)
  std = g.astype(np.float64).std(axis=0)
  np.testing.assert_allclose(scale[std > 0], 1 / std[std > 0], rtol=1e-10)
  assert scale[2] == 0.0


def test_featurization_is_deterministic_given_its_key(cifar):
  x, xt = cifar.x_train[:30], cifar.x_test[:5]
  a = patches.random_patch_features(jax.random.key(0), x, xt, 24, **SMALL)
  b = patches.random_patch_features(jax.random.key(0), x, xt, 24, **SMALL)
  c = patches.random_patch_features(jax.random.key(1), x, xt, 24, **SMALL)
  assert a.shape == (5, 24 * 8) and np.all(a >= 0)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


def test_features_do_not_depend_on_the_images_per_call(cifar):
  x, xt = cifar.x_train[:30], cifar.x_test[:9]
  want = patches.random_patch_features(jax.random.key(0), x, xt, 24, chunk=1, **SMALL)
  for chunk in (None, 4, 9, 50):  # None: default_chunk; 4: the last call padded; 50: one padded call
    np.testing.assert_allclose(patches.random_patch_features(jax.random.key(0), x, xt, 24, chunk=chunk, **SMALL),
                               want, rtol=1e-6, atol=1e-6)
  # cache-sized calls: 4 MiB of float32 responses, at least one image
  assert [patches.default_chunk(f, 27, 27) for f in (10, 500, 1000, 5000)] == [143, 2, 1, 1]
  for bad in (0, -3, 2.5):
    with pytest.raises(ValueError, match="chunk"):
      patches.random_patch_features(jax.random.key(0), x, xt, 24, chunk=bad, **SMALL)


@pytest.mark.parametrize("standardize", [True, False])
def test_blocked_gram_equals_the_gram_of_the_materialized_scaled_features(cifar, standardize):
  key, x, xt = jax.random.key(0), cifar.x_train[:40], cifar.x_test[:10]
  ktr, kte = patches.random_patch_gram(key, x, xt, 24, standardize=standardize, block=16, **SMALL)
  f = patches.random_patch_features(key, x, x, 24, **SMALL).astype(np.float64)
  ft = patches.random_patch_features(key, x, xt, 24, **SMALL).astype(np.float64)
  if standardize:  # statistics over the training set, for train and test alike, and the intercept feature
    mean, std = f.mean(axis=0), f.std(axis=0)
    scale = np.where(std > 0, 1 / np.where(std > 0, std, 1), 0)
    f, ft = (f - mean) * scale, (ft - mean) * scale
    f, ft = np.hstack([f, np.ones((40, 1))]), np.hstack([ft, np.ones((10, 1))])
  atol = 1e-5 * np.mean(np.diagonal(ktr))
  np.testing.assert_allclose(ktr, f @ f.T, rtol=1e-5, atol=atol)
  np.testing.assert_allclose(kte, ft @ f.T, rtol=1e-5, atol=atol)
  np.testing.assert_array_equal(ktr, ktr.T)
  if standardize:  # centred features alone would leave K 1 = 0; the intercept makes K positive definite
    assert np.linalg.eigvalsh(ktr)[0] > 1e-6 * np.mean(np.diagonal(ktr))


class Interrupted(Exception):
  pass


BLOCK_FEATURES = patches._block_features  # the real one, whatever a test has patched in since


def _count_blocks(monkeypatch, fail_at_block=None):
  """Wraps the per-block featurization (two calls a block: train, test), optionally raising at a block."""
  calls = []
  real = BLOCK_FEATURES

  def wrapped(*args, **kwargs):
    if fail_at_block is not None and len(calls) == 2 * fail_at_block:
      raise Interrupted
    calls.append(1)
    return real(*args, **kwargs)

  monkeypatch.setattr(patches, "_block_features", wrapped)
  return calls


@pytest.mark.parametrize("every,fail_at,saved", [(1, 1, 1), (2, 2, 2), (2, 1, None)])
def test_an_interrupted_accumulation_resumes_to_the_uninterrupted_gram(cifar, tmp_path, monkeypatch, every, fail_at,
                                                                      saved):
  key, x, xt = jax.random.key(0), cifar.x_train[:40], cifar.x_test[:10]
  args = dict(block=16, dtype=np.float32, checkpoint_every=every, **SMALL)
  want = patches.random_patch_gram(key, x, xt, 24, **args)
  path = tmp_path / "gram.npz"
  _count_blocks(monkeypatch, fail_at_block=fail_at)  # killed while computing block fail_at
  with pytest.raises(Interrupted):
    patches.random_patch_gram(key, x, xt, 24, checkpoint=str(path), **args)
  if saved is None:  # before the first checkpoint was due: nothing saved, the re-run starts over
    assert not path.exists()
  else:
    with np.load(path) as z:
      assert int(z["next_block"]) == saved
  calls = _count_blocks(monkeypatch)
  got = patches.random_patch_gram(key, x, xt, 24, checkpoint=str(path), **args)
  assert len(calls) == 2 * (3 - (saved or 0))  # only the blocks not yet accumulated (train and test each)
  for g, w in zip(got, want):
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, w)
  calls.clear()  # finished: the last checkpoint holds every block, so a re-run computes none
  again = patches.random_patch_gram(key, x, xt, 24, checkpoint=str(path), **args)
  assert not calls and all(np.array_equal(a, w) for a, w in zip(again, want))
  assert [p.name for p in tmp_path.iterdir()] == ["gram.npz"]  # no temporary file left behind


def test_a_checkpoint_of_another_computation_is_refused(cifar, tmp_path):
  key, x, xt = jax.random.key(0), cifar.x_train[:40], cifar.x_test[:10]
  path = str(tmp_path / "gram.npz")
  patches.random_patch_gram(key, x, xt, 24, checkpoint=path, **SMALL)
  other_x = x.copy()
  other_x[0, 0, 0, 0] ^= 1
  for change, field in [(dict(threshold=0.5), "threshold"), (dict(key=jax.random.key(1)), "key"),
                        (dict(num_filters=20), "num_filters"), (dict(filter_block=8), "filter_block"),
                        (dict(x_train=other_x), "x_train"), (dict(dtype=np.float32), "dtype")]:
    kw = dict(key=key, x_train=x, x_test=xt, num_filters=24, checkpoint=path, **SMALL)
    kw.update(change)
    with pytest.raises(patches.GramCheckpointError, match=f"another computation \\(it differs in {field}\\)"):
      patches.random_patch_gram(**kw)
  pathlib.Path(path).write_bytes(b"not an npz file")
  with pytest.raises(patches.GramCheckpointError, match="not a readable Gram checkpoint"):
    patches.random_patch_gram(key, x, xt, 24, checkpoint=path, **SMALL)


def test_config_defaults_are_the_featurizations_defaults():
  from rethink_jax.configs import minnorm_cifar

  for preset in ("cpu", "subset", "paper"):
    c = minnorm_cifar.get_config(preset)
    assert c.features.kind == "gaussian_filters" and c.gram_checkpoint == ""  # presets unchanged
    f = c.features
    assert {"size": f.patch_size, "threshold": f.threshold, "zca_eps": f.zca_eps, "norm_eps": f.patch_norm_eps,
            "regions": f.regions, "standardize": f.standardize, "whiten_patches": f.whiten_patches} == \
        patches.DEFAULTS


def test_command_runs_random_patches_end_to_end_resumes_and_refuses_another_config(tmp_path):
  from helpers import cli_batch

  common = ["--config.features.kind=random_patches", "--config.methods=('random_conv',)",
            "--config.data.max_train=300", "--config.filter_block=100", "--config.features.whiten_patches=5000",
            f"--config.gram_checkpoint={tmp_path / 'gram.npz'}", "--config.gram_checkpoint_every=1"]
  out = subprocess.run([sys.executable, "-m", "rethink_jax", "minnorm_cifar", "--workdir", str(tmp_path / "run"),
                        "--config.num_filters=200", *common], capture_output=True, text=True, timeout=300, cwd=REPO)
  assert out.returncode == 0, out.stderr[-3000:]
  record = json.loads((tmp_path / "run" / "results.json").read_text())
  rows = record["results"]
  assert [r["method"] for r in rows] == [f"200 random patch filters, ridge {r:g} x mean diag" for r in (0, 1e-3)]
  assert all(r["residual"] < 1e-6 and r["test_error"] < 0.9 for r in rows)
  assert rows[0]["features"] == "random_patches" and rows[0]["feature_count"] == 1600
  assert rows[0]["feature_params"]["whiten_patches"] == 5000
  assert record["config"]["features"]["kind"] == "random_patches"
  script = REPO / "experiments" / "minnorm_cifar.py"
  bad = ["--config.features.kind=patches", "--config.features.regions=28", "--config.features.patch_size=33",
         "--config.features.zca_eps=0.0", "--config.features.threshold=-1.0", "--config.features.whiten_patches=0",
         "--config.gram_checkpoint=x.npz"]
  jobs = [([script, "--workdir", tmp_path / "run2", "--config.num_filters=300", *common], tmp_path),  # refused
          ([script, "--workdir", tmp_path / "run3", "--config.num_filters=200", *common], tmp_path)]  # resumed
  plain = [a for a in common if not a.startswith("--config.gram_checkpoint")]
  jobs += [([script, "--workdir", tmp_path / "held", "--config.num_filters=200", "--config.data.heldout=100", *plain],
            tmp_path),   # choosing parameters: evaluated on training images 200-299, never the test set
           ([script, "--workdir", tmp_path / "held2", "--config.data.heldout=300", *plain], tmp_path)]
  jobs += [([script, "--dry_run", arg], tmp_path) for arg in bad]
  refused, resumed, held, too_many, *dry = cli_batch.run(jobs)
  assert held.returncode == 0, held.stderr[-2000:]
  record = json.loads((tmp_path / "held" / "results.json").read_text())
  assert record["evaluation"] == "heldout" and record["n_train"] == 200 and record["n_evaluated"] == 100
  table = report.script_results(tmp_path / "held").read_text()
  assert "| held-out error |" in table and "test set is not used" in table and "paper" not in table
  assert too_many.returncode == 2 and "config.data.heldout = 300: must be less than the 300" in too_many.stderr
  # the finished featurization given its command again: nothing computed, its record left as it was
  before = (tmp_path / "held" / "results.json").read_bytes()
  again_held = subprocess.run([sys.executable, str(script), "--workdir", str(tmp_path / "held"),
                               "--config.num_filters=200", "--config.data.heldout=100", *plain],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
  assert again_held.returncode == 0, again_held.stderr[-2000:]
  assert "1 of 1 featurizations done earlier, kept" in again_held.stdout and "held-out error" not in again_held.stdout
  assert (tmp_path / "held" / "results.json").read_bytes() == before
  assert not (tmp_path / "held2").exists()
  assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr[-2000:]
  assert "gram.npz holds the partial Gram matrix of another computation (it differs in num_filters)" in refused.stderr
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  again = json.loads((tmp_path / "run3" / "results.json").read_text())["results"]
  assert [r["test_error"] for r in again] == [r["test_error"] for r in rows]
  for arg, out in zip(bad, dry):
    key = arg.split("=")[0][len("--"):]
    assert out.returncode == 2 and out.stderr.startswith(f"error: {key} = "), (arg, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, (arg, out.stderr)


def test_ridge_chosen_on_heldout_training_images_is_the_one_tested(tmp_path):
  from helpers import cli_batch

  script = REPO / "experiments" / "minnorm_cifar.py"
  args = ["--config.methods=('random_conv',)", "--config.data.max_train=300", "--config.num_filters=64",
          "--config.filter_block=32"]
  ridges = (0.0, 0.01, 3.0)
  jobs = [([script, "--workdir", tmp_path / "chosen", *args, f"--config.ridges={ridges}",
            "--config.ridge_heldout=100"], tmp_path),
          ([script, "--workdir", tmp_path / "held", *args, f"--config.ridges={ridges}", "--config.data.heldout=100"],
           tmp_path)]
  bad = [(["--config.ridge_heldout=300"], "config.ridge_heldout = 300: must be less than the 300 training images"),
         (["--config.ridge_heldout=-1"], "config.ridge_heldout = -1: must be an integer >= 0"),
         (["--config.ridge_heldout=100", "--config.data.heldout=50"], "chooses the ridge for a test-set run"),
         (["--config.ridge_heldout=100", "--config.methods=('gaussian',)"], "add 'random_conv' to config.methods")]
  methods = lambda extra: [] if "methods" in str(extra) else args[:1]  # the first of two such flags would win
  jobs += [([script, "--workdir", tmp_path / f"bad{i}", *args[1:], *extra, *methods(extra)], tmp_path)
           for i, (extra, _) in enumerate(bad)]
  chosen, held, *refused = cli_batch.run(jobs)
  assert chosen.returncode == 0 and held.returncode == 0, (chosen.stderr[-2000:], held.stderr[-2000:])
  rows = json.loads((tmp_path / "chosen" / "results.json").read_text())["results"]
  trials, tested = rows[:3], rows[3:]
  assert [(r["ridge"], r["evaluation"], r["n_fit"], r["n_evaluated"]) for r in trials] == \
      [(r, "heldout", 200, 100) for r in ridges]
  # the held-out errors are those of a run fitted on the first 200 images and evaluated on the next 100
  # (its own Gram matrix of those images: equal up to rounding, so at most one prediction differs)
  separate = json.loads((tmp_path / "held" / "results.json").read_text())["results"]
  assert all(abs(a["test_error"] - b["test_error"]) <= 0.01 for a, b in zip(trials, separate))
  best = min(trials, key=lambda r: r["test_error"])
  assert len(tested) == 1 and tested[0]["ridge"] == best["ridge"] and tested[0]["chosen_on_heldout"] == 100
  assert "evaluation" not in tested[0] and tested[0]["residual"] < 1e-6
  assert len({r["test_error"] for r in trials}) > 1  # the ridges differ on held-out images: the choice is real
  # the tested row is the plain run at that ridge on all 300 images
  plain = cli_batch.run([([script, "--workdir", tmp_path / "plain", *args, f"--config.ridges=({best['ridge']},)"],
                          tmp_path)])[0]
  assert plain.returncode == 0, plain.stderr[-2000:]
  assert json.loads((tmp_path / "plain" / "results.json").read_text())["results"][0]["test_error"] == \
      tested[0]["test_error"]
  # a record written before ridge_heldout existed is the same computation as ridge_heldout = 0: kept, not refused
  path = tmp_path / "plain" / "results.json"
  old = json.loads(path.read_text())
  del old["config"]["ridge_heldout"]
  path.write_text(json.dumps(old))
  again = cli_batch.run([([script, "--workdir", tmp_path / "plain", *args, f"--config.ridges=({best['ridge']},)"],
                          tmp_path)])[0]
  assert again.returncode == 0 and "1 of 1 featurizations done earlier, kept" in again.stdout, again.stderr[-2000:]
  table = report.script_results(tmp_path / "chosen").read_text()
  assert f"ridge {best['ridge']:g} x mean diag † | {100 * tested[0]['test_error']:.2f}% |" in table
  assert f"**{100 * best['test_error']:.2f}%** at {best['ridge']:g}" in table
  assert "fitted on the first 200 training images and scored on the last 100" in table
  for i, ((extra, message), out) in enumerate(zip(bad, refused)):
    assert out.returncode == 2 and message in out.stderr, (extra, out.stderr[-2000:])
    assert not (tmp_path / f"bad{i}").exists()


def test_grid_settings_are_every_combination_of_the_non_empty_entries():
  from rethink_jax.commands import minnorm_cifar as command
  from rethink_jax.configs import common, minnorm_cifar

  c = minnorm_cifar.get_config("cpu")
  assert command.grid_settings(c) == [{}]  # no grid: features.* as they are
  c = common.override(c, **{"grid.threshold": (0.25, 1.0), "grid.regions": (2, 3)})
  assert command.grid_settings(c) == [{"threshold": 0.25, "regions": 2}, {"threshold": 0.25, "regions": 3},
                                      {"threshold": 1.0, "regions": 2}, {"threshold": 1.0, "regions": 3}]
  assert command.with_setting(c, {"threshold": 1.0, "regions": 3}).features.to_dict() == {
      **c.features.to_dict(), "threshold": 1.0, "regions": 3}
  assert len(command.grid_settings(minnorm_cifar.get_config("tune"))) == 18


def test_a_grid_of_featurizations_is_one_resumable_command_and_one_table(tmp_path):
  from helpers import cli_batch

  script = REPO / "experiments" / "minnorm_cifar.py"
  args = ["--config.features.kind=random_patches", "--config.methods=('random_conv',)", "--config.data.max_train=300",
          "--config.data.heldout=100", "--config.num_filters=100", "--config.filter_block=50",
          "--config.features.whiten_patches=5000", "--config.ridges=(0.0,0.01)",
          "--config.grid.threshold=(0.25,1.0)", "--config.grid.regions=(3,)"]
  out = subprocess.run([sys.executable, str(script), "--workdir", str(tmp_path / "grid"), *args],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
  assert out.returncode == 0, out.stderr[-3000:]
  path = tmp_path / "grid" / "results.json"
  record = json.loads(path.read_text())
  rows = record["results"]
  settings = [{"threshold": a, "regions": 3} for a in (0.25, 1.0)]
  assert [r["setting"] for r in rows] == [s for s in settings for _ in (0, 1)]  # every combination, every ridge
  assert [r["feature_params"]["threshold"] for r in rows] == [0.25, 0.25, 1.0, 1.0]
  assert {r["feature_count"] for r in rows} == {1800}  # 2 x regions^2 per filter
  assert len({r["test_error"] for r in rows}) > 1 and all(r["test_error"] < 0.9 for r in rows)
  table = report.script_results(tmp_path / "grid").read_text()
  # one row per featurization, a column per ridge; the parameters in the record's order (by name)
  assert "| regions | threshold | held-out error, ridge 0 | ridge 0.01 | features | Gram time | peak RSS |" in table
  assert [r["ridge"] for r in rows] == [0.0, 0.01, 0.0, 0.01]
  for a, (r0, r1) in zip((0.25, 1.0), (rows[:2], rows[2:])):
    cells = [c.strip("*") for c in re.search(rf"^\| 3 \| {a:g} \| ([^|]+) \| ([^|]+) \| 1,800 \|", table,
                                              re.M).groups()]
    assert cells == [f"{100 * r0['test_error']:.2f}%", f"{100 * r1['test_error']:.2f}%"]
  best = min(rows, key=lambda r: r["test_error"])
  assert (f"Lowest held-out error: {100 * best['test_error']:.2f}% with regions 3, "
          f"threshold {best['setting']['threshold']:g}, ridge {best['ridge']:g} x mean diagonal.") in table
  interp = min(rows[::2], key=lambda r: r["test_error"])
  assert (f"Lowest held-out error without ridge (interpolating): {100 * interp['test_error']:.2f}% with regions 3, "
          f"threshold {interp['setting']['threshold']:g}.") in table
  # killed after the first featurization: the same command computes the other one only
  path.write_text(json.dumps({**record, "results": rows[:2]}))
  bad = [("--config.grid.threshold=(-1.0,)", "config.grid.threshold = (-1.0,): -1.0 must be a number in [0, inf)"),
         ("--config.grid.regions=(2,28)", "config.features.regions = 28: must be at most 27"),
         ("--config.grid.zca_eps=(0.1,0.0)", "config.grid.zca_eps = (0.1, 0.0): 0.0 must be a finite number > 0")]
  jobs = [([script, "--workdir", tmp_path / "grid", *args], tmp_path),
          ([script, "--workdir", tmp_path / "grid", *args[:-1], "--config.grid.regions=(2,)"], tmp_path)]
  jobs += [([script, "--dry_run", *args[:-2], arg], tmp_path) for arg, _ in bad]
  jobs += [([script, "--dry_run", "--config.grid.threshold=(0.5,)"], tmp_path)]  # Gaussian filters have no threshold
  resumed, other, *dry = cli_batch.run(jobs)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "1 of 2 featurizations done earlier, kept" in resumed.stdout
  again = json.loads(path.read_text())["results"]
  assert [(r["setting"], r["test_error"]) for r in again] == [(r["setting"], r["test_error"]) for r in rows]
  assert other.returncode == 2 and len(other.stderr.strip().splitlines()) == 1
  assert "holds the results of another config (grid.regions: [3] (saved) vs [2] (now))" in other.stderr
  assert json.loads(path.read_text())["results"] == again  # refused before anything was written
  for (arg, message), out in zip(bad, dry):
    assert out.returncode == 2 and message in out.stderr, (arg, out.stderr)
  assert dry[-1].returncode == 2 and "needs config.features.kind = 'random_patches'" in dry[-1].stderr


def test_random_patch_features_and_gram_refuse_bad_images_and_arguments(tmp_path):
  key, x = jax.random.key(0), np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3)).astype(np.uint8)
  small = dict(size=3, whiten_patches=20)
  features = lambda x_train, images, **kw: patches.random_patch_features(kw.pop("key", key), x_train, images, 4,
                                                                         **{**small, **kw})
  with pytest.raises(ValueError, match="x_train contains 576 non-finite values"):  # were NaN features
    features(np.full((3, 8, 8, 3), np.nan), x)
  with pytest.raises(ValueError, match=r"images has 1 channel\(s\); the training images have 3"):
    features(x, x[..., :1])
  with pytest.raises(ValueError, match="images holds 6x6 images; the training images are 8x8"):  # was accepted
    features(x, x[:, :6, :6])
  with pytest.raises(ValueError, match=r"x_train must be \[N, H, W, C\] images .*, got shape \(3, 8, 8\)"):
    features(x[..., 0], x)
  with pytest.raises(TypeError, match=r"key must be a jax.random.key\(\.\.\.\), got int"):
    features(x, x, key=0)
  with pytest.raises(ValueError, match="num_filters must be a positive integer, got 2.5"):
    patches.random_patch_features(key, x, x, 2.5, **small)
  with pytest.raises(ValueError, match="threshold must be a finite number, got nan"):
    features(x, x, threshold=np.nan)
  with pytest.raises(ValueError, match="norm_eps must be a finite number > 0, got inf"):
    features(x, x, norm_eps=np.inf)
  gram = lambda xt, **kw: patches.random_patch_gram(kw.pop("key", key), x, xt, 4, **{**small, **kw})
  path = tmp_path / "gram.npz"
  with pytest.raises(ValueError, match=r"x_test has 1 channel\(s\); the training images have 3"):
    gram(x[..., :1], checkpoint=str(path))
  with pytest.raises(TypeError, match=r"key must be a jax.random.key"):
    gram(x, key=0, checkpoint=str(path))
  with pytest.raises(ValueError, match="dtype must be float32 or float64 .*, got int32"):
    gram(x, dtype=np.int32, checkpoint=str(path))
  with pytest.raises(ValueError, match="block must be a positive integer, got 0"):
    gram(x, block=0, checkpoint=str(path))
  with pytest.raises(ValueError, match="checkpoint_every must be a positive integer, got 0"):
    gram(x, checkpoint_every=0, checkpoint=str(path))
  assert not path.exists()  # refused before anything was written
