"""The paper's CIFAR-10 networks in Flax NNX (Zhang et al., 2017, Section 2 and Appendix A).

``create(name, num_classes=10, rngs=...)`` builds one by name; every model maps
``[N, 28, 28, 3]`` float images to ``[N, num_classes]`` logits with
``model(x, train=..., dropout_key=...)``. Trainable parameter counts equal Table 1:

==========================  ==========
name                        parameters
==========================  ==========
``inception_small``         1,649,402
``inception_small_nobn``    1,649,402
``alexnet_small``           1,387,786
``mlp_1x512``               1,209,866
``mlp_3x512``               1,735,178
==========================  ==========

ImageNet (Table 2): ``create("inception_v3", num_classes=1000, input_shape=(299, 299, 3), rngs=...)``,
23,817,352 trainable parameters (:data:`REFERENCE_PARAM_COUNTS`).

Your own network: :func:`register` a builder under a name, and that name works as
``config.model`` in every engine (single and vmapped runs, sweeps over models).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rethink_jax.models.alexnet import AlexNetSmall
from rethink_jax.models.common import CONV_IMPLS
from rethink_jax.models.inception import InceptionSmall
from rethink_jax.models.inception_v3 import InceptionV3
from rethink_jax.models.mlp import MLP

__all__ = ["create", "register", "names", "count_params", "NAMES", "IMAGENET_NAMES", "PAPER_PARAM_COUNTS", "REFERENCE_PARAM_COUNTS", "MLP",
           "AlexNetSmall", "InceptionSmall", "InceptionV3"]

PAPER_PARAM_COUNTS = {
    "inception_small": 1_649_402,
    "inception_small_nobn": 1_649_402,
    "alexnet_small": 1_387_786,
    "mlp_1x512": 1_209_866,
    "mlp_3x512": 1_735_178,
}

_BUILDERS: dict[str, Callable[..., nnx.Module]] = {
    "inception_small": lambda **kw: InceptionSmall(batch_norm=True, **kw),
    "inception_small_nobn": lambda **kw: InceptionSmall(batch_norm=False, **kw),
    "alexnet_small": lambda **kw: AlexNetSmall(**kw),
    "mlp_1x512": lambda **kw: MLP(depth=1, **kw),
    "mlp_3x512": lambda **kw: MLP(depth=3, **kw),
}
NAMES = tuple(_BUILDERS)  # the CIFAR-10 networks of Table 1

# Inception V3 without its auxiliary head, BatchNorm offsets only, 1000 classes: the count
# of the widely used reference definitions (TF-slim, Keras); the paper gives none.
REFERENCE_PARAM_COUNTS = {"inception_v3": 23_817_352}
_BUILDERS["inception_v3"] = lambda **kw: InceptionV3(**kw)
IMAGENET_NAMES = ("inception_v3",)


_REGISTERED: list[str] = []  # names added by register(), after the paper's

# Inception V3's VALID convolutions and pools need 75x75 inputs at least (as Keras requires).
_MIN_SIZE = {"inception_v3": 75}


def _is_int(v) -> bool:
  return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_create(name: str, num_classes, rngs, input_shape, dropout, dtype, conv_impl) -> tuple[int, int, int]:
  """The arguments of :func:`create`, checked before any weight is drawn; returns ``input_shape`` as a tuple."""
  if not _is_int(num_classes):
    raise TypeError(f"create({name!r}): num_classes must be an int >= 2, got {num_classes!r}.")
  if num_classes < 2:
    raise ValueError(f"create({name!r}): num_classes must be an int >= 2, got {num_classes}.")
  if not isinstance(rngs, nnx.Rngs):
    raise TypeError(f"create({name!r}): rngs must be an nnx.Rngs (e.g. nnx.Rngs(0)), got {type(rngs).__name__}.")
  if not isinstance(input_shape, (tuple, list)):
    raise TypeError(f"create({name!r}): input_shape must be (H, W, C), three positive ints, got {input_shape!r}.")
  shape = tuple(input_shape)
  if len(shape) != 3 or not all(_is_int(v) and v >= 1 for v in shape):
    raise ValueError(f"create({name!r}): input_shape must be (H, W, C), three positive ints, got {input_shape!r}.")
  h, w, c = shape
  if h in (1, 3, 4) and c not in (1, 3, 4):  # a channels-first shape would build a network for the wrong input
    raise ValueError(f"create({name!r}): input_shape {shape} looks channels-first; the models take channels-last "
                     f"(H, W, C), e.g. {(w, c, h)}.")
  if min(h, w) < _MIN_SIZE.get(name, 1):
    raise ValueError(f"create({name!r}): input_shape {shape} is too small; {name} needs H, W >= {_MIN_SIZE[name]}.")
  if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)):
    raise TypeError(f"create({name!r}): dropout must be a number in [0, 1), got {dropout!r}.")
  if not 0.0 <= dropout < 1.0:
    raise ValueError(f"create({name!r}): dropout must lie in [0, 1), got {dropout!r}.")
  try:
    is_float = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
  except TypeError:
    is_float = False
  if not is_float:
    raise TypeError(f"create({name!r}): dtype must be a float dtype (jnp.float32, jnp.bfloat16), got {dtype!r}.")
  if conv_impl not in CONV_IMPLS:  # an MLP has no convolution, but a typo is still a typo
    raise ValueError(f"create({name!r}): conv_impl must be one of {CONV_IMPLS}, got {conv_impl!r}.")
  return shape


def register(name: str, builder: Callable[..., nnx.Module]) -> None:
  """Makes ``name`` a model of the library, usable as ``config.model``.

  ``builder(*, num_classes, input_shape, dropout, dtype, rngs)`` returns a Flax NNX module
  (a builder that names a ``conv_impl`` parameter receives it too); the module maps ``[N, H, W, C]``
  float images (``input_shape`` is ``(H, W, C)``, after the crop) to ``[N, num_classes]``
  logits when called as ``module(x, train=bool, dropout_key=key or None)``. Trainable weights
  are ``nnx.Param``; running statistics (BatchNorm) ``nnx.BatchStat``, updated in training
  mode and used in evaluation mode; ``dropout_key`` is the step's key for dropout (``None``
  in evaluation). ``dtype`` is the compute dtype (``config.compute_dtype``); keep the
  parameters float32. A registered name cannot replace one of the paper's models.
  """
  if not isinstance(name, str) or not name or name in NAMES + IMAGENET_NAMES:
    raise ValueError(f"register: {name!r} must be a new, non-empty name (the paper's models are "
                     f"{', '.join(NAMES + IMAGENET_NAMES)}).")
  if not callable(builder):
    raise TypeError(f"register: the builder of {name!r} must be callable, got {type(builder).__name__}.")
  _BUILDERS[name] = builder
  if name not in _REGISTERED:
    _REGISTERED.append(name)


def names() -> tuple[str, ...]:
  """Every name ``config.model`` takes for CIFAR-10-like data: the paper's (:data:`NAMES`) and
  those :func:`register` added."""
  return NAMES + tuple(_REGISTERED)


def create(name: str, num_classes: int = 10, *, rngs: nnx.Rngs, input_shape: tuple[int, int, int] = (28, 28, 3),
           dropout: float = 0.0, dtype: Any = jnp.float32, conv_impl: str = "xla") -> nnx.Module:
  """Builds one of the paper's networks by name.

  Args:
    name: one of :data:`NAMES` (CIFAR-10) or :data:`IMAGENET_NAMES`.
    num_classes: output classes.
    rngs: ``nnx.Rngs`` for parameter initialisation.
    input_shape: ``(H, W, C)`` of the inputs (the paper: 28x28x3 after cropping).
    dropout: dropout rate before the classifier (paper: off on CIFAR-10).
    dtype: compute dtype of matmuls and convolutions; parameters stay float32.
    conv_impl: ``"xla"`` (XLA's convolution) or ``"im2col"`` (each convolution as one matrix
      product, :func:`rethink_jax.models.common.im2col_conv`); same parameters, same function.
  """
  if not isinstance(name, str) or name not in _BUILDERS:
    raise ValueError(f"Unknown model {name!r}; choose one of {names() + IMAGENET_NAMES}.")
  input_shape = _check_create(name, num_classes, rngs, input_shape, dropout, dtype, conv_impl)
  if name in _REGISTERED:
    kwargs = {"conv_impl": conv_impl} if "conv_impl" in inspect.signature(_BUILDERS[name]).parameters else {}
  else:
    kwargs = {} if name in ("mlp_1x512", "mlp_3x512", "inception_v3") else {"conv_impl": conv_impl}
  if name == "inception_v3" and conv_impl != "xla":
    raise ValueError("inception_v3 uses XLA's convolution (conv_impl='xla'); it is meant for GPUs and TPUs.")
  return _BUILDERS[name](num_classes=int(num_classes), input_shape=tuple(int(v) for v in input_shape),
                         dropout=dropout, dtype=dtype, rngs=rngs, **kwargs)


def count_params(model_or_params) -> int:
  """Number of trainable parameters (``nnx.Param`` leaves) of a model or a param state."""
  state = nnx.state(model_or_params, nnx.Param) if isinstance(model_or_params, nnx.Module) else model_or_params
  leaves = jax.tree_util.tree_leaves(state)
  if model_or_params is None or not all(hasattr(x, "size") for x in leaves):  # None would count as 0
    raise TypeError(f"count_params: expected an nnx.Module or its parameter state, got "
                    f"{type(model_or_params).__name__}.")
  return sum(int(x.size) for x in leaves)
