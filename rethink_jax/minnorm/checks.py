"""Argument checks shared by the min-norm modules, run before anything is computed or written.

Each error is one sentence naming the caller's argument and what was expected: ``TypeError``
for a value of the wrong kind (a string where a number goes),
``ValueError`` for a value of the right kind that is out of range, of the wrong shape, or
not finite.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["real_number", "positive_int", "gram_dtype", "count_nonfinite", "check_real", "check_finite", "images",
           "same_images"]

ROWS_BYTES = 64 << 20
"""Bytes of rows :func:`count_nonfinite` tests at once: a bounded temporary even for a 14 GB Gram matrix."""


def real_number(value, name: str) -> float:
  """``value`` as a float: a Python or NumPy real number or a 0-d real array, not a bool or a string."""
  dtype = getattr(value, "dtype", None)
  scalar_array = dtype is not None and np.ndim(value) == 0 and np.dtype(dtype).kind in "iuf"
  if isinstance(value, bool) or not (isinstance(value, numbers.Real) or scalar_array):
    raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__}).")
  return float(value)


def positive_int(value, name: str) -> int:
  """``value`` as an int >= 1 (Python or NumPy integer; not a bool, not a float such as 2.0)."""
  if isinstance(value, (str, bytes)) or value is None:
    raise TypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__}).")
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f"{name} must be a positive integer, got {value!r}.")
  return int(value)


def gram_dtype(dtype, name: str = "dtype") -> np.dtype:
  """float32 or float64: a Gram matrix in an integer dtype would truncate the sums, float16 would overflow."""
  try:
    dt = np.dtype(dtype)
  except TypeError:
    raise TypeError(f"{name} must be float32 or float64, got {dtype!r}.") from None
  if dt not in (np.float32, np.float64):
    raise ValueError(f"{name} must be float32 or float64 (the Gram matrix's storage), got {dt.name}.")
  return dt


def count_nonfinite(a: np.ndarray) -> int:
  """NaNs and infs in ``a``, a block of rows at a time (no full-size boolean temporary); 0 for integers."""
  if not np.issubdtype(a.dtype, np.inexact):
    return 0
  if a.ndim == 0 or a.nbytes <= ROWS_BYTES:
    return int(a.size - np.count_nonzero(np.isfinite(a)))
  rows = max(1, ROWS_BYTES // max(1, a[0].nbytes))
  return sum(int(a[i:i + rows].size - np.count_nonzero(np.isfinite(a[i:i + rows]))) for i in range(0, len(a), rows))


def check_real(a: np.ndarray, name: str) -> None:
  """Refuses bool, complex, string and object arrays."""
  if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
    raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}.")


def check_finite(a: np.ndarray, name: str) -> None:
  """Refuses NaN and inf in ``a``, counting them (:func:`count_nonfinite`: bounded memory for a Gram matrix)."""
  bad = count_nonfinite(a)
  if bad:
    raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf).")


def images(x, name: str) -> np.ndarray:
  """``x`` as a NumPy ``[N, H, W, C]`` array of real, finite values with ``N, H, W, C >= 1``."""
  x = np.asarray(x)
  if x.ndim != 4 or 0 in x.shape:
    raise ValueError(f"{name} must be [N, H, W, C] images with at least one image, got shape {x.shape}.")
  check_real(x, name)
  check_finite(x, name)
  return x


def same_images(x: np.ndarray, name: str, train: np.ndarray) -> None:
  """``x``'s images have the training images' height, width and channels (features of others are meaningless:
  filters are drawn for the training images' channels, pooling cells for their size)."""
  if x.shape[3] != train.shape[3]:
    raise ValueError(f"{name} has {x.shape[3]} channel(s); the training images have {train.shape[3]}.")
  if x.shape[1:3] != train.shape[1:3]:
    raise ValueError(f"{name} holds {x.shape[1]}x{x.shape[2]} images; the training images are "
                     f"{train.shape[1]}x{train.shape[2]}.")
