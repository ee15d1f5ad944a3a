"""The notebooks run top to bottom on the embedded sample, and are stored with their outputs."""

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
EXPECTED = {"quickstart", "randomization_tests", "min_norm_kernels", "expressivity", "memorization_scores"}


def test_all_five_notebooks_are_there():
  assert {p.stem for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_its_outputs(path):
  """Stored executed (scripts/run_notebooks.py), so a reader on the web sees the results."""
  nb = nbformat.read(path, as_version=4)
  nbformat.validate(nb)
  code = [c for c in nb.cells if c.cell_type == "code"]
  counts = [c.execution_count for c in code]
  assert None not in counts and counts == sorted(counts), f"{path.name}: run scripts/run_notebooks.py and commit"
  outputs = [o for c in code for o in c.outputs]
  assert not [o for o in outputs if o.output_type == "error"]
  assert all(c.outputs for c in code[-2:]), f"{path.name}: its last cells show nothing"
  if any("plt." in c.source for c in code):  # a notebook that draws keeps its plots
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} stores no plot"


def test_notebooks_install_from_the_documented_repository():
  """One repository address (pyproject's Repository URL), used by every install cell and
  Colab badge and given in the README."""
  import re

  root = pathlib.Path(__file__).parent.parent
  url = re.search(r'^Repository = "([^"]+)"', (root / "pyproject.toml").read_text(), re.M).group(1)
  assert url in (root / "README.md").read_text() and url in (root / "docs" / "getting_started.md").read_text()
  badges = (root / "docs" / "notebooks.md").read_text()
  for path in NOTEBOOKS:
    assert f'"git+{url}"' in nbformat.read(path, as_version=4).cells[1].source
    assert f"colab.research.google.com/github/{url.split('github.com/')[1]}/blob/main/notebooks/{path.name}" in badges


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
  nb = nbformat.read(path, as_version=4)
  # Runs in a scratch directory so nothing lands in the repository; any exception fails.
  nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()
  first = nb.cells[1]
  assert "install" in first.source and any("devices" in o.get("text", "") for o in first.outputs)
  errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
  assert not errors
