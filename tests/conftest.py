"""Shared fixtures: the reference data in ../shared/data, skipped cleanly when absent."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(os.environ.get("RETHINK_JAX_SHARED", REPO.parent / "shared" / "data"))


def shared_file(name: str) -> pathlib.Path:
  path = SHARED_DATA / name
  if not path.is_file():
    pytest.skip(f"reference data {path} is absent (set RETHINK_JAX_SHARED to its folder)")
  return path


@pytest.fixture
def shared_data():
  return shared_file
