"""The suite's own set-up works as the Makefile means it to."""

import os

import pytest


@pytest.mark.xdist_group("grouping_check")
def test_xdist_groups_are_kept_together(request):
  """Under ``make test`` (``-n 2 --dist loadgroup``) a test marked ``xdist_group`` carries its
  group in its node id: that is how pytest-xdist sends a group's tests to one worker, so that
  a module's expensive fixture (a trained sweep, a four-device solve) is computed once. Some
  pytest releases silently break that (see pyproject.toml's test extra)."""
  if not (os.environ.get("PYTEST_XDIST_WORKER") and request.config.getoption("loadgroup", False)):
    pytest.skip("not run with --dist loadgroup")
  assert request.node.nodeid.endswith("@grouping_check"), request.node.nodeid
