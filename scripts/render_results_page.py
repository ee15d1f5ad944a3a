"""Writes the report's tables into docs/results.md (and minnorm.md), so they read the same on GitHub as on the site.

Each table of the page sits between two comments that name the report's file it comes from:

    <!-- include results/table1_mlp/table1.md:3 -->

    | model | ... |

    <!-- end include -->

(``:3``: from its third line on, after the title). This script replaces what is between them
by the file as the report last wrote it; ``tests/test_results_page.py`` checks that the page
equals what the report makes of the records. Figures are linked as ``../results/...png``,
which GitHub resolves from docs/ and the site's hook (scripts/docs_hooks.py) maps to the
copies it adds.

  python -m rethink_jax.report results/ && python scripts/render_results_page.py
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = (ROOT / "docs" / "results.md", ROOT / "docs" / "minnorm.md")
BLOCK = re.compile(r"^<!-- include (results/[^ :]+)(?::(\d+))? -->\n(.*?)^<!-- end include -->$", re.M | re.S)


def included(path: str, start: str | None) -> str:
  """The text of the report's file from line ``start`` (1-based) on."""
  lines = (ROOT / path).read_text().splitlines(keepends=True)
  return "".join(lines[int(start or 1) - 1:])


def render(text: str) -> str:
  # blank lines around the table: Python-Markdown (the site) ends an HTML comment's block only at one
  return BLOCK.sub(lambda m: f"<!-- include {m.group(1)}{':' + m.group(2) if m.group(2) else ''} -->\n\n"
                             f"{included(m.group(1), m.group(2))}\n<!-- end include -->", text)


def main() -> int:
  for page in PAGES:
    text = page.read_text()
    new = render(text)
    if new != text:
      page.write_text(new)
      print(f"wrote {page}")
    else:
      print(f"{page} is up to date")
  return 0


if __name__ == "__main__":
  sys.exit(main())
