"""Builds the documentation site and takes headless-Chromium screenshots of its pages, to
look at them as a reader would (wide tables at 1280 px, figures, code blocks).

  python scripts/screenshot_site.py [--out shots/] [--width 1280] [PAGE ...]

PAGE is a page's path on the site ("" for the front page, "results/" for the results
page; default both). Needs Chromium (Debian: apt-get install chromium); the site is served
on 127.0.0.1 only, for the time of the screenshots.
"""

import argparse
import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    pass


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("pages", nargs="*", default=["", "results/"])
  parser.add_argument("--out", default="shots")
  parser.add_argument("--width", type=int, default=1280)
  parser.add_argument("--height", type=int, default=2400)
  args = parser.parse_args(argv)
  chromium = shutil.which("chromium") or shutil.which("chromium-browser")
  if chromium is None:
    print("error: Chromium not found (Debian: apt-get install chromium).", file=sys.stderr)
    return 2
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory() as scratch:
    site = pathlib.Path(scratch) / "site"
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)], cwd=ROOT, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
      for page in args.pages:
        name = page.strip("/").replace("/", "_") or "index"
        shot = out / f"{name}.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={scratch}/profile",
                        f"--window-size={args.width},{args.height}", f"--screenshot={shot.resolve()}",
                        f"http://127.0.0.1:{server.server_port}/{page}"], check=True, capture_output=True, timeout=120)
        print(f"wrote {shot}")
    finally:
      server.shutdown()
  return 0


if __name__ == "__main__":
  sys.exit(main())
