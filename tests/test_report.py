from rethink_jax import records, report
from rethink_jax.sweep import SWEEP_FILE


def _fixture_sweep(root, runs):
  """A sweep directory with hand-written run records: (name, meta, summary, metrics)."""
  root.mkdir(parents=True, exist_ok=True)
  records.write_json(root / SWEEP_FILE, {n: {"config": {}, "meta": m} for n, m, _, _ in runs})
  for name, _, summary, metrics in runs:
    (root / name).mkdir()
    if summary is not None:
      records.write_json(root / name / "summary.json", summary)
    records.write_jsonl(root / name / "metrics.jsonl", metrics)
    records.write_json(root / name / "config.json", {"environment": {
        "device_count": 1, "device_kinds": ["cpu"], "backend": "cpu", "versions": {"jax": "0.10.2"}}})


def _summary(train, test, step=100, seconds=60.0, fit=None):
  return {"train_accuracy": train, "test_accuracy": test, "step": step, "train_seconds": seconds,
          "dataset": "fixture data", "time_to_fit": fit}


def test_table1_from_fixture_records_exactly(tmp_path):
  meta = lambda model, crop, wd, rl: {"model": model, "random_crop": crop, "weight_decay": wd, "random_labels": rl}
  _fixture_sweep(tmp_path, [
      ("a", meta("mlp_1x512", False, False, False), _summary(1.0, 0.4512, 390), []),
      ("b", meta("mlp_1x512", False, False, True), _summary(0.99125, 0.1034, 780), []),
      ("c", meta("mlp_3x512", False, True, False), None, []),
  ])
  text = report.table1(tmp_path).read_text()
  assert text == (
      "# Table 1: CIFAR-10 train / test accuracy (%)\n\n"
      "| model | random crop | weight decay | train (ours) | test (ours) | train (paper) | test (paper) | steps |\n"
      "|---|---|---|---:|---:|---:|---:|---:|\n"
      "| mlp_1x512 | no | no | 100.00 | 45.12 | 100.00 | 50.51 | 390 |\n"
      "| mlp_1x512 (random labels) | no | no | 99.12 | 10.34 | 99.34 | 10.61 | 780 |\n"
      "| mlp_3x512 | no | yes | — | — | 100.00 | 53.35 | not run |\n\n"
      "Data: fixture data. Devices: 1 x cpu (cpu), jax 0.10.2. Training time, all runs: 2.0 min.\n")


def test_figures_from_fixture_records(tmp_path):
  rows = [{"step": s, "batch_loss": 2.3 - s / 100, "test_accuracy": 0.1 + s / 1000} for s in (10, 20, 30)]
  _fixture_sweep(tmp_path / "fig1a", [(k, {"kind": k}, _summary(1.0, 0.1), rows)
                                      for k in ("true_labels", "random_labels", "gaussian")])
  _fixture_sweep(tmp_path / "fig1bc", [(f"p{p}", {"p": p}, _summary(1.0, 0.5 - p / 3, fit={"step": int(100 + 200 * p)}),
                                        rows) for p in (0.0, 0.5, 1.0)])
  _fixture_sweep(tmp_path / "fig2b", [("inception_small", {"model": "inception_small"}, _summary(1.0, 0.8), rows)])
  written = report.build_all(tmp_path)
  names = sorted(p.name for p in written)
  assert names == ["figure1a.png", "figure1b.png", "figure1bc.md", "figure1c.png", "figure2b.png"]
  for p in written:
    if p.suffix == ".png":
      assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
  table = (tmp_path / "fig1bc" / "figure1bc.md").read_text()
  assert "| 0.50 | 200 | 2.00 | 100.00 | 66.67 |" in table
