"""Section 5 on MNIST: min-norm interpolation with a Gaussian kernel, raw pixels and Gabor features.

Paper: 1.2% test error on raw pixels, 0.6% with a Gabor wavelet transform; norms about 220
and 390 (its bandwidths and normalisation are not stated; here pixels are scaled to [0, 1]).
* ``cpu`` (default): the embedded sample (5,000 train, 1,000 test); seconds.
* ``paper`` (or ``full``): 60,000 / 10,000 from files; one float32 Gram matrix of 14.4 GB.
    python experiments/minnorm_mnist.py --config rethink_jax/configs/minnorm_mnist.py:paper --config.data.data_dir=~/data
"""

import ml_collections

PRESETS = ("cpu", "paper", "full")  # 'full' is the same as 'paper'


def get_config(preset: str = "cpu"):
  preset = "paper" if preset == "full" else preset
  if preset not in ("cpu", "paper"):
    raise ValueError(f"Unknown preset {preset!r}; choose 'cpu' or 'paper'.")
  c = ml_collections.ConfigDict()
  c.data = ml_collections.ConfigDict()
  c.data.name = "mnist"
  c.data.source = "sample" if preset == "cpu" else "files"
  c.data.data_dir = ""
  c.data.max_train = 0
  c.raw_bandwidth = 5.0
  c.gabor_bandwidth = 2.0
  c.solver = "auto"
  c.ridge = 0.0
  c.encoding = "onehot"
  c.features = ("raw", "gabor")   # which of the two systems to solve
  return c
