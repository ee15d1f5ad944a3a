"""docs/results.md shows what the report makes of the records kept in results/: every table
it includes and every figure it shows is rebuilt from those records, and equals the copy
the page uses."""

import pathlib
import re

import pytest

from rethink_jax import records, report

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PAGE = (ROOT / "docs" / "results.md").read_text()

INCLUDED = re.findall(r"^<!-- include (results/[^ :]+)(?::\d+)? -->$", PAGE, re.M)  # tables, written in
SHOWN = re.findall(r"\]\(\.\./(results/[^)]+\.png)\)", PAGE)                       # figures, via docs_hooks.py


def test_the_page_takes_its_tables_and_figures_from_results():
  assert INCLUDED and SHOWN
  for path in INCLUDED + SHOWN:
    assert (ROOT / path).is_file(), f"docs/results.md uses {path}, which is not in the repository"
  used = {pathlib.Path(p).parts[1] for p in INCLUDED + SHOWN}
  kept = {p.name for p in RESULTS.iterdir() if p.is_dir()}
  assert kept == used, f"results/ folders the page does not use: {sorted(kept - used)}; missing: {sorted(used - kept)}"


def test_results_holds_records_and_the_reports_outputs_only():
  allowed = set(records.RECORD_FILES) | {"README.md", records.EXAMPLES, records.SCORES}
  for path in RESULTS.rglob("*"):
    if path.is_file():
      assert path.name in allowed or path.suffix in (".md", ".png"), f"{path}: not a record (checkpoints stay out)"
    if path.name == records.EXAMPLES:  # per-example records only as compact copies
      assert "margin" not in records.read_examples(path), f"{path}: a full examples.npz (keep a compact copy)"
    assert records.CHECKPOINTS not in path.parts and records.TENSORBOARD not in path.parts


def test_the_report_rebuilds_every_table_and_figure_of_the_page_from_the_records(tmp_path):
  copy = tmp_path / "results"
  records.copy_records(RESULTS, copy)  # the records alone, none of the report's outputs
  assert not list(copy.rglob("*.md")) and not list(copy.rglob("*.png"))
  # a long run kept while it trains (scripts/keep_results.py --partial) is reported as far as it got; its
  # tables name it unfinished (tests/test_report.py)
  written = report.build_all(copy, partial=True)
  made = {p.relative_to(copy).as_posix() for p in written}
  for path in INCLUDED:
    rel = path[len("results/"):]
    assert rel in made, f"the report does not make {path}"
    assert (copy / rel).read_text() == (ROOT / path).read_text(), \
        f"{path} differs from what the report makes of its records: run python -m rethink_jax.report results/"
  for path in SHOWN:
    assert path[len("results/"):] in made, f"the report does not make {path}"


def test_copy_records_leaves_checkpoints_behind_and_refuses_a_corrupt_record(tmp_path):
  run = tmp_path / "run"
  (run / records.CHECKPOINTS / "10").mkdir(parents=True)
  (run / records.CHECKPOINTS / "10" / "state").write_text("weights")
  records.write_json(run / records.CONFIG, {"config": {}})
  (run / records.METRICS).write_text('{"step": 1}\n')
  written = records.copy_records(run, tmp_path / "kept")
  assert sorted(p.name for p in written) == [records.CONFIG, records.METRICS]
  assert not (tmp_path / "kept" / records.CHECKPOINTS).exists()
  (run / records.SUMMARY).write_text('{"step": ')
  with pytest.raises(records.RecordError, match="summary.json"):
    records.copy_records(run, tmp_path / "again")
  assert not (tmp_path / "again").exists()  # nothing written when a record is corrupt
  with pytest.raises(records.RecordError, match="holds no record"):
    records.copy_records(run / records.CHECKPOINTS, tmp_path / "none")


def test_keep_results_script_copies_and_reports(tmp_path):
  import subprocess
  import sys

  src = RESULTS / "random_labels"
  out = subprocess.run([sys.executable, str(ROOT / "scripts" / "keep_results.py"), str(src), str(tmp_path / "random_labels")],
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr
  assert (tmp_path / "random_labels" / "summary.md").read_text() == (src / "summary.md").read_text()
  bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "keep_results.py"), str(tmp_path / "nope"),
                        str(tmp_path / "k2")], capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.splitlines()) == 1


def test_the_pages_hold_the_reports_tables_as_they_are_so_github_shows_them():
  import importlib.util

  spec = importlib.util.spec_from_file_location("render", ROOT / "scripts" / "render_results_page.py")
  render = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(render)
  for page in render.PAGES:
    text = page.read_text()
    assert "--8<--" not in text and "](results/" not in text, f"{page}: an include or link GitHub cannot show"
    assert render.render(text) == text, f"{page} differs from results/: run python scripts/render_results_page.py"
