"""ImageNet image preprocessing for Table 2 and Figure 2a of the paper: the "data
augmentation" column of Table 2 is Inception's (Szegedy et al. 2016).

* Training with augmentation (:func:`preprocess_train`): a random crop covering 8-100% of
  the image with aspect ratio 3/4-4/3 (:func:`inception_crop_box`), resized to
  :data:`IMAGE_SIZE`, and a random horizontal flip.
* Evaluation, and training without augmentation (:func:`preprocess_eval`): the central
  :data:`EVAL_CROP_FRACTION` (87.5%) of the image, resized.
* Images are decoded on the host (:func:`decode_image`), travel as ``uint8`` and are scaled
  to ``[-1, 1]`` on the device (:func:`to_model_input`).
"""

from __future__ import annotations

import io
import math

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.data import DataError
from rethink_jax.preprocess import check_int

IMAGE_SIZE = 299
EVAL_CROP_FRACTION = 0.875


def _check_rng(rng, fn: str) -> None:
  if not isinstance(rng, np.random.Generator):  # a seed or a jax key has no .uniform/.integers of a Generator
    raise TypeError(f"{fn}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
                    f"{type(rng).__name__}.")


def _check_range(pair, fn: str, name: str) -> tuple[float, float]:
  try:
    low, high = (float(v) for v in pair)
  except (TypeError, ValueError):
    raise TypeError(f"{fn}: {name} must be a pair (low, high) of numbers, got {pair!r}.") from None
  if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
    raise ValueError(f"{fn}: {name} must be a pair (low, high) with 0 < low <= high, got {pair!r}.")
  return low, high


def decode_image(image) -> np.ndarray:
  """JPEG/PNG bytes or an array -> ``[H, W, 3]`` uint8 RGB (grayscale and CMYK converted)."""
  if isinstance(image, (bytes, bytearray)):
    from PIL import Image
    try:
      with Image.open(io.BytesIO(image)) as im:
        return np.asarray(im.convert("RGB"))
    except Exception as e:
      raise DataError(f"Could not decode an image ({type(e).__name__}: {e}).") from e
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.dtype != np.uint8:
    raise DataError(f"decode_image: expected a [H, W, C] uint8 image, got {image.shape} {image.dtype}.")
  if not image.shape[0] or not image.shape[1] or image.shape[2] not in (1, 3, 4):  # (3, H, W) would read as C = W
    raise DataError(f"decode_image: expected a non-empty [H, W, C] image with C = 1, 3 or 4 channels (gray, RGB, "
                    f"RGBA), got shape {image.shape}.")
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def inception_crop_box(rng: np.random.Generator, height: int, width: int, area_range=(0.08, 1.0),
                       aspect_range=(3 / 4, 4 / 3), attempts: int = 10) -> tuple[int, int, int, int]:
  """A random ``(top, left, h, w)`` covering ``area_range`` of the image with an aspect ratio
  in ``aspect_range`` (log-uniform); after ``attempts`` misses, the central crop."""
  _check_rng(rng, "inception_crop_box")
  height, width = check_int(height, "inception_crop_box", "height"), check_int(width, "inception_crop_box", "width")
  area_range = _check_range(area_range, "inception_crop_box", "area_range")
  aspect_range = _check_range(aspect_range, "inception_crop_box", "aspect_range")
  area = height * width
  for _ in range(attempts):
    target = area * rng.uniform(*area_range)
    aspect = math.exp(rng.uniform(math.log(aspect_range[0]), math.log(aspect_range[1])))
    w = int(round(math.sqrt(target * aspect)))
    h = int(round(math.sqrt(target / aspect)))
    if 0 < w <= width and 0 < h <= height:
      return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
  return _central_box(height, width, 1.0)


def _central_box(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
  h, w = max(1, int(round(height * fraction))), max(1, int(round(width * fraction)))
  return (height - h) // 2, (width - w) // 2, h, w


def _crop_resize(image: np.ndarray, box, size: int) -> np.ndarray:
  from PIL import Image
  top, left, h, w = box
  crop = Image.fromarray(image[top:top + h, left:left + w])
  return np.asarray(crop.resize((size, size), Image.BILINEAR))


def preprocess_train(image, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
  """Inception training augmentation: random-sized crop, resize to ``size``, random flip."""
  _check_rng(rng, "preprocess_train")
  size = check_int(size, "preprocess_train", "size")
  image = decode_image(image)
  out = _crop_resize(image, inception_crop_box(rng, *image.shape[:2]), size)
  return out[:, ::-1] if rng.random() < 0.5 else out


def preprocess_eval(image, size: int = IMAGE_SIZE) -> np.ndarray:
  """Central 87.5% of the image, resized to ``size`` (evaluation, and training without augmentation)."""
  size = check_int(size, "preprocess_eval", "size")
  image = decode_image(image)
  return _crop_resize(image, _central_box(*image.shape[:2], EVAL_CROP_FRACTION), size)


def to_model_input(images_uint8: jax.Array) -> jax.Array:
  """uint8 images -> float32 in ``[-1, 1]`` (the Inception convention), on the device.

  Integer images only (the dtype is checked, under ``jit`` too): float images, already scaled
  to ``[0, 1]`` or not, would map to the wrong range."""
  dtype = getattr(images_uint8, "dtype", None)
  if dtype is None or not jnp.issubdtype(dtype, jnp.integer):  # bool is not an integer dtype here
    raise TypeError(f"to_model_input: images must be a uint8 array (0..255), got "
                    f"{dtype if dtype is not None else type(images_uint8).__name__}.")
  return images_uint8.astype(jnp.float32) / 127.5 - 1.0
