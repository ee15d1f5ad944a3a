"""The documentation site builds with warnings as errors (broken links and anchors, docstrings)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent


def test_docs_site_builds_strict(tmp_path):
  pytest.importorskip("mkdocs")
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  api = (tmp_path / "site" / "api" / "index.html").read_text()
  for name in ("rethink_jax.corruptions.partial_labels", "rethink_jax.minnorm.fit",
               "rethink_jax.theory.depth2_interpolant", "rethink_jax.train.train_and_evaluate",
               "rethink_jax.models.common.max_pool", "rethink_jax.cpu_flags.apply", "rethink_jax.loop.run",
               "rethink_jax.records.identity", "rethink_jax.checkpoint.Checkpoints",
               "rethink_jax.validation.check", "rethink_jax.minnorm.sharded.solve",
               "rethink_jax.dynamics.learned_for_good", "rethink_jax.corruptions.transition_labels"):
    assert f'id="{name}"' in api, f"{name} missing from the API reference"


def test_every_docs_page_is_in_the_nav():
  nav = (ROOT / "mkdocs.yml").read_text()
  pages = {p.name for p in (ROOT / "docs").glob("*.md")}
  assert pages and all(page in nav for page in pages), sorted(p for p in pages if p not in nav)


def _public_without_docstring(module) -> list[str]:
  import inspect

  missing = []
  for name in getattr(module, "__all__", ()):
    obj = getattr(module, name, None)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)) or getattr(obj, "__module__", None) != module.__name__:
      continue  # constants, and names re-exported from another module (checked there)
    if not inspect.getdoc(obj):
      missing.append(f"{module.__name__}.{name}")
    if inspect.isclass(obj):
      missing += [f"{module.__name__}.{name}.{attr}" for attr, value in vars(obj).items()
                  if not attr.startswith("_") and inspect.isfunction(value) and not value.__doc__]
  return missing


def test_public_api_has_docstrings():
  """Every function and class a module lists in ``__all__``, and each public method of those
  classes, says what it does (the API reference renders them)."""
  import importlib
  import pkgutil

  import rethink_jax

  names = [m.name for m in pkgutil.walk_packages(rethink_jax.__path__, "rethink_jax.")]
  modules = [importlib.import_module(name) for name in names if ".sample_data" not in name]
  assert len(modules) > 30
  missing = [entry for module in modules for entry in _public_without_docstring(module)]
  assert not missing, missing
