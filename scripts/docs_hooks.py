"""mkdocs hook: the figures the report writes under ``results/`` are part of the site.

docs/results.md holds the report's tables (scripts/render_results_page.py writes them in)
and links its figures as ``../results/<section>/<figure>.png``, which GitHub resolves from
docs/. This hook adds every PNG below ``results/`` to the site at ``results/...`` and points
the pages' links there, so the page shows what the records give, with no copy of a figure
kept by hand under docs/.
"""

import pathlib

from mkdocs.structure.files import File

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results"


def on_files(files, config):
  for png in sorted(RESULTS.rglob("*.png")):
    src_uri = "results/" + png.relative_to(RESULTS).as_posix()
    files.append(File.generated(config, src_uri, abs_src_path=str(png)))
  return files


def on_page_markdown(markdown, page, config, files):
  return markdown.replace("](../results/", "](results/")
