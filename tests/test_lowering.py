"""The engine's compiled steps lower for the accelerators the library is used on, without one.

``jax.export`` lowers a jitted function for a named platform (``cuda``, ``tpu``) using that
platform's lowering rules, on any machine. The tests export the very functions the
engines call (the single-run step with its on-device batch gather, the vmapped step of
``train_many``, the ImageNet step of Inception V3) from abstract shapes, so nothing is
allocated, and check the lowered modules for custom calls that only XLA:CPU implements
(LAPACK, DUCC FFTs, host callbacks). What this proves: every operation has a lowering
for CUDA and TPU and none is routed to a CPU-only kernel. What it does not prove: that
XLA for that platform compiles the module, how fast it runs, how much memory it needs,
or that the numbers match CPU's; those need the device.
"""

import re

import jax
import jax.numpy as jnp
import pytest
from jax import export

from rethink_jax import imagenet, loop, models, multirun, train
from rethink_jax.minnorm import device, kernels as minnorm_kernels, sharded
from rethink_jax.configs import common, imagenet as imagenet_configs

ACCELERATORS = ("cuda", "tpu")
CPU_ONLY = re.compile(r"^(lapack_|ducc_|xla_python_cpu_callback|xla_ffi_python_cpu_callback|cpu_)")


def custom_call_targets(exported: export.Exported) -> set[str]:
  text = exported.mlir_module()
  return set(re.findall(r"custom_call @([\w.$-]+)", text)) | set(re.findall(r'call_target_name = "([^"]+)"', text))


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)


def _abstract_train_state(config, input_shape, num_classes):
  """The model's graph definition and its initial train state as shapes: traced, never run
  (an eager initialization of Inception V3 takes tens of seconds on CPU)."""
  graphdef = []

  def init():
    g, state = train.create_train_state(config, train.stream_keys(0)["init"], input_shape, num_classes)
    graphdef.append(g)
    return state

  state = jax.eval_shape(init)
  return graphdef[0], state


def _assert_portable(fn, *args):
  for platform in ACCELERATORS:
    exported = export.export(fn, platforms=[platform])(*args)
    assert exported.platforms == (platform,)
    cpu_only = sorted(t for t in custom_call_targets(exported) if CPU_ONLY.match(t))
    assert not cpu_only, (platform, cpu_only)


def test_the_detector_sees_cpu_only_custom_calls():
  f = jax.jit(lambda x: jnp.linalg.cholesky(x @ x.T + jnp.eye(4)))
  a = jax.ShapeDtypeStruct((4, 4), jnp.float32)
  on_cpu = custom_call_targets(export.export(f, platforms=["cpu"])(a))
  on_cuda = custom_call_targets(export.export(f, platforms=["cuda"])(a))
  assert any(CPU_ONLY.match(t) for t in on_cpu), on_cpu          # LAPACK
  assert on_cuda and not any(CPU_ONLY.match(t) for t in on_cuda)  # cuSOLVER


@pytest.mark.parametrize("name", models.NAMES)
def test_single_run_step_lowers_for_accelerators(name):
  config = common.set_model(common.base_config(), name)
  keys = train.stream_keys(0)
  graphdef, state = _abstract_train_state(config, (28, 28, 3), 10)
  mesh = train.make_mesh()
  stepper = train.DataStepper(train.make_train_step(graphdef, config, keys["dropout"]), config, mesh, keys["shuffle"],
                              50_000, augment_stream=keys["augment"])
  data = train.DeviceData(jax.ShapeDtypeStruct((50_000, 32, 32, 3), jnp.uint8),
                          jax.ShapeDtypeStruct((50_000,), jnp.int32))
  _assert_portable(stepper.step, state, data, jax.ShapeDtypeStruct((50_000,), jnp.int32),
                   _abstract(loop.StepSums.zeros()))


def test_vmapped_step_lowers_for_accelerators():
  k, n = 11, 50_000
  config = common.set_model(common.base_config(), "inception_small")
  keys = train.stream_keys(0)
  graphdef, state = _abstract_train_state(config, (28, 28, 3), 10)
  stacked = jax.tree.map(lambda x: jax.ShapeDtypeStruct((k,) + x.shape, x.dtype), state)
  key_data = jax.random.key_data(keys["dropout"])
  streams = {name: jax.ShapeDtypeStruct((k,) + key_data.shape, key_data.dtype) for name in ("dropout", "augment")}
  step = multirun.make_vmapped_step(graphdef, config, train.make_mesh(), n)
  _assert_portable(step, stacked, jax.ShapeDtypeStruct((n, 32, 32, 3), jnp.uint8),
                   jax.ShapeDtypeStruct((k, n), jnp.int32), streams, jax.ShapeDtypeStruct((k, n), jnp.int32),
                   _abstract(loop.StepSums.zeros((k,))), jax.ShapeDtypeStruct((k,), jnp.bool_))


def test_imagenet_inception_v3_step_lowers_for_accelerators():
  config = imagenet_configs.get_config("random_labels")
  config.compute_dtype = "bfloat16"
  keys = train.stream_keys(0)
  graphdef, state = _abstract_train_state(config, (299, 299, 3), 1000)
  assert models.count_params(state.params) == 23_817_352
  b = 64
  batch = {"image": jax.ShapeDtypeStruct((b, 299, 299, 3), jnp.uint8), "label": jax.ShapeDtypeStruct((b,), jnp.int32),
           "index": jax.ShapeDtypeStruct((b,), jnp.int32)}
  step = imagenet.make_imagenet_step(graphdef, config, train.make_mesh(), keys, 1000)
  _assert_portable(step, state, batch, _abstract(loop.StepSums.zeros()))


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "linear"])
def test_minnorm_device_path_lowers_for_accelerators(kernel):
  k_fn = minnorm_kernels.get(kernel, None if kernel == "linear" else 5.0)
  programs = device.compiled_programs(k_fn, n=4096, d=784, outputs=10, tile=1024)
  assert sorted(programs) == ["correction", "factor", "gram tile", "kernel rows times alpha",
                              "kernel rows times alpha, double-float32"]
  for fn, args in programs.values():
    _assert_portable(fn, *args)


def test_minnorm_sharded_path_lowers_for_accelerators():
  """The row-sharded solve's programs (over this process's devices: the collectives lower
  whatever their count; one device here)."""
  k_fn = minnorm_kernels.get("gaussian", 5.0)
  programs = sharded.compiled_programs(k_fn, n=4000, d=784, outputs=10, devices=jax.devices(), tile=512)
  assert sorted(programs) == ["cho_solve", "diagonal", "factor", "gram", "matvec", "matvec_doublefloat"]
  for fn, args in programs.values():
    _assert_portable(fn, *args)
