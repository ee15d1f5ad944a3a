"""The XLA:CPU flags set on import (rethink_jax.cpu_flags)."""

import os
import subprocess
import sys

import numpy as np

from rethink_jax import cpu_flags


def test_flag_added_for_tested_jaxlib_only():
  assert cpu_flags.with_cpu_flags("", "0.10.2") == cpu_flags.FLAGS
  assert cpu_flags.with_cpu_flags("--xla_dump_to=/tmp/d", "0.10.2") == f"--xla_dump_to=/tmp/d {cpu_flags.FLAGS}"
  for version in ("0.7.0", "0.10.1", "0.11.0", "1.0"):  # unknown to be safe: XLA aborts on unknown flags
    assert cpu_flags.with_cpu_flags("", version) == ""


def test_user_value_and_opt_out_win():
  own = f"{cpu_flags.FLAG}=individual_dot"
  assert cpu_flags.with_cpu_flags(own, "0.10.2") == own
  assert cpu_flags.with_cpu_flags("", "0.10.2", opt_out="0") == ""
  assert cpu_flags.with_cpu_flags("", "0.10.2", opt_out="1") == cpu_flags.FLAGS


_CONV_SCRIPT = """
import os, sys
import rethink_jax  # sets the flags
import jax, jax.numpy as jnp, numpy as np
k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
x = jax.random.normal(k1, (4, 12, 12, 16)); w = jax.random.normal(k2, (3, 3, 16, 8))
conv = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
y, vjp = jax.vjp(conv, x, w)
dx, dw = vjp(jax.random.normal(k3, y.shape))
s = jnp.ones((300, 64)).sum(0)
np.savez(sys.argv[1], y=y, dx=dx, dw=dw, s=s, flags=os.environ.get("XLA_FLAGS", ""))
"""


def _run(tmp_path, name, **env):
  out = tmp_path / f"{name}.npz"
  environ = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", cpu_flags.OPT_OUT)}
  environ.update(env, JAX_PLATFORMS="cpu")
  subprocess.run([sys.executable, "-c", _CONV_SCRIPT, str(out)], check=True, env=environ, timeout=300)
  return np.load(out)


def test_import_sets_flags_and_results_match_xla_defaults(tmp_path):
  from jaxlib import version
  tuned = _run(tmp_path, "tuned")
  default = _run(tmp_path, "default", **{cpu_flags.OPT_OUT: "0"})
  expected = cpu_flags.with_cpu_flags("", version.__version__)
  assert str(tuned["flags"]) == expected  # the installed jaxlib accepted it: the process ran
  assert str(default["flags"]) == ""
  for key in ("y", "dx", "dw", "s"):
    np.testing.assert_allclose(tuned[key], default[key], rtol=1e-5, atol=1e-4)


def test_existing_xla_flags_are_kept(tmp_path):
  result = _run(tmp_path, "own", XLA_FLAGS="--xla_cpu_enable_fast_math=false")
  assert str(result["flags"]).startswith("--xla_cpu_enable_fast_math=false")
