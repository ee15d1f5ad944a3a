"""Executes the notebooks top to bottom and stores them with their outputs, so a reader on
the web sees every table and plot.

  python scripts/run_notebooks.py [notebooks/quickstart.ipynb ...]

Each notebook runs in a scratch directory (nothing lands in the repository) on the embedded
sample, exactly as CI runs it (tests/test_notebooks.py); a cell that raises stops the
script with exit status 1 and leaves the stored notebook unchanged. Run it after changing a
notebook or the library's output, and commit the result.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

import nbclient
import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"


def execute(path: pathlib.Path) -> nbformat.NotebookNode:
  """The notebook at ``path`` executed in a scratch directory (raises on the first error)."""
  nb = nbformat.read(path, as_version=4)
  with tempfile.TemporaryDirectory() as scratch:
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": scratch}}).execute()
  return nb


def main(argv: list[str]) -> int:
  paths = [pathlib.Path(p) for p in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
  for path in paths:
    try:
      nb = execute(path)
    except nbclient.exceptions.CellExecutionError as e:
      print(f"error: {path} failed; stored notebook unchanged:\n{e}", file=sys.stderr)
      return 1
    nbformat.validate(nb)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    print(f"wrote {path} with its outputs")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
