"""XLA:CPU settings that make the paper's convolutional networks train about 1.5-2x faster on CPU.

Importing :mod:`rethink_jax` calls :func:`apply` before JAX creates its CPU client. With the
jaxlib versions listed in :data:`TESTED_JAXLIB`, XLA:CPU hands convolutions, matrix products
and reductions to YNNPACK by default; on the x86 CPUs measured (``docs/results.md``,
``benchmarks/conv_profile.py``) YNNPACK's convolution is 1.5x slower than XLA's own (Eigen)
convolution in the forward pass and 5x slower for the weight gradient. :data:`FLAGS` keeps
YNNPACK for matrix products and reductions and gives convolutions back to Eigen.

The flag only exists in recent jaxlib releases and XLA aborts the process on a flag it does
not know, so it is set only for the tested versions. It changes nothing on GPU or TPU (it
affects the CPU client only). Opt out with ``RETHINK_JAX_CPU_FLAGS=0``; a value of the flag
already in ``XLA_FLAGS`` is kept as it is. Flags are read when JAX first creates its
backends: importing :mod:`rethink_jax` after running a JAX computation leaves them unchanged.
"""

from __future__ import annotations

import os

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
# XLA's default for these releases also lists individual_convolution; leave it out.
FLAGS = f"{FLAG}=individual_dot,reduce"
TESTED_JAXLIB = ((0, 10, 2), (0, 10, 99))  # inclusive range of jaxlib versions known to have the flag
OPT_OUT = "RETHINK_JAX_CPU_FLAGS"


def _version_tuple(version: str) -> tuple[int, ...]:
  parts = []
  for part in version.split(".")[:3]:
    digits = "".join(ch for ch in part if ch.isdigit())
    parts.append(int(digits) if digits else 0)
  return tuple(parts)


def with_cpu_flags(xla_flags: str, jaxlib_version: str, opt_out: str | None = None) -> str:
  """``XLA_FLAGS`` with :data:`FLAGS` added where it is safe and wanted.

  Unchanged when ``opt_out`` is ``"0"``, when the flag is already set (the user's value
  wins), or when ``jaxlib_version`` is outside :data:`TESTED_JAXLIB`.
  """
  if (opt_out or "").strip() == "0" or FLAG in xla_flags:
    return xla_flags
  low, high = TESTED_JAXLIB
  if not low <= _version_tuple(jaxlib_version) <= high:
    return xla_flags
  return f"{xla_flags} {FLAGS}".strip()


def apply() -> bool:
  """Add :data:`FLAGS` to ``os.environ["XLA_FLAGS"]``; True when the flag is in effect."""
  try:
    from jaxlib import version as jaxlib_version
  except ImportError:  # no jaxlib: nothing to tune
    return False
  current = os.environ.get("XLA_FLAGS", "")
  updated = with_cpu_flags(current, jaxlib_version.__version__, os.environ.get(OPT_OUT))
  if updated != current:
    os.environ["XLA_FLAGS"] = updated
  return FLAGS in os.environ.get("XLA_FLAGS", "")
