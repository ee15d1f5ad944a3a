"""Section 5 on CIFAR-10: Gaussian kernel on pixels (paper 46% error) and random convolutional
features (paper: 32,000 filters, 17%; 15% with a little l2 regularization).

* ``cpu`` (default): the embedded sample (2,000 train, 500 held out), 2,000 random filters.
* ``subset``: the first 10,000 training images of full CIFAR-10 (files), 4,000 filters.
* ``paper`` (or ``full``): 50,000 / 10,000 and 32,000 filters (hours on 2 CPU cores; sized
  for a large machine).
* ``tune``: random patches, 2,000 filters, fitted on the first 10,000 training images and
  evaluated on the next 5,000 (``data.heldout``), never on the test set: for choosing the
  featurization's free parameters, every combination of ``grid.*`` at every ridge, one
  results.json (a re-run of the same command skips the combinations already there).
    python experiments/minnorm_cifar.py --config rethink_jax/configs/minnorm_cifar.py:tune --config.data.data_dir=~/data
    python experiments/minnorm_cifar.py --config rethink_jax/configs/minnorm_cifar.py:paper --config.data.data_dir=~/data

``features.kind`` picks the random features of the ``random_conv`` row: ``gaussian_filters``
(every preset's default: Gaussian 6x6 filters, ReLU with offset 1, 2x2 average pooling;
:func:`rethink_jax.minnorm.random_conv_gram`) or ``random_patches`` (filters sampled from
training patches, normalized and ZCA-whitened, symmetric rectifier, coarse pooling, standard
scaling, as in the authors' group's public CIFAR-10 code; :func:`rethink_jax.minnorm.random_patch_gram`).
The ``features.*`` defaults below are KeystoneML's ``RandomPatchCifar`` values except
``whiten_patches`` (ours); they are to be chosen on a held-out part of the training set.
    python experiments/minnorm_cifar.py --config.features.kind=random_patches --config.methods="('random_conv',)"
"""

import ml_collections

PRESETS = ("cpu", "subset", "paper", "full", "tune")  # 'full' is the same as 'paper'


def get_config(preset: str = "cpu"):
  preset = "paper" if preset == "full" else preset
  if preset == "tune":
    return tune_config()
  if preset not in ("cpu", "subset", "paper"):
    raise ValueError(f"Unknown preset {preset!r}; choose 'cpu', 'subset', 'paper' or 'tune'.")
  c = ml_collections.ConfigDict()
  c.data = ml_collections.ConfigDict()
  c.data.name = "cifar10"
  c.data.source = "sample" if preset == "cpu" else "files"
  c.data.data_dir = ""
  c.data.max_train = {"cpu": 0, "subset": 10_000, "paper": 0}[preset]
  c.data.heldout = 0        # > 0: evaluate on the last heldout training images instead of the test set
  c.bandwidth = 20.0        # on per-image standardized 28x28x3 crops (d = 2352)
  c.num_filters = {"cpu": 2000, "subset": 4000, "paper": 32_000}[preset]
  c.filter_block = 500
  c.ridges = (0.0, 1e-3)
  c.ridge_heldout = 0       # > 0: ridges tried on the last ridge_heldout training images, the best one tested
  c.methods = ("gaussian", "random_conv")  # either or both rows of the paper's Section 5 on CIFAR-10
  # the random-features Gram matrices: float64 on the sample, float32 at full size (10 GB instead of 20)
  c.gram_dtype = "float32" if preset == "paper" else "float64"
  c.features = ml_collections.ConfigDict()
  c.features.kind = "gaussian_filters"  # or "random_patches"; the entries below are random_patches' only
  # rethink_jax.minnorm.patches.DEFAULTS (a test keeps them equal): KeystoneML's values but whiten_patches
  c.features.patch_size = 6          # 6x6x3 training patches as filters
  c.features.threshold = 0.25        # symmetric rectifier max(0, r - a), max(0, -r - a) (nondeep: 1)
  c.features.zca_eps = 0.1           # added to the patch covariance's eigenvalues before whitening
  c.features.patch_norm_eps = 10.0   # added to each patch's variance (0-255 pixels) before dividing by its root
  c.features.regions = 2             # pooling regions per side of the 27x27 map (nondeep: 3)
  c.features.standardize = True      # each feature to mean 0, variance 1 over the training set
  c.features.whiten_patches = 100_000  # training patches the ZCA whitener is fitted on
  # resumable Gram accumulation (random_patches): a .npz path ("" none), written every so many filter blocks
  c.gram_checkpoint = ""
  c.gram_checkpoint_every = 4
  # random_patches: values to try, each overriding its features.* entry; the run computes every
  # combination of the non-empty ones (empty: features.* as they are), rows written as each finishes
  c.grid = ml_collections.ConfigDict()
  c.grid.threshold = ()
  c.grid.zca_eps = ()
  c.grid.regions = ()
  return c


def tune_config():
  """``tune``: choosing the random-patch parameters without the test set: 2,000 filters
  fitted on the first 10,000 training images and evaluated on the next 5,000 (never trained
  on), at several ridges; vary ``features.*`` over runs of this preset."""
  c = get_config("subset")
  c.data.max_train, c.data.heldout = 15_000, 5_000
  c.num_filters = 2000
  c.methods = ("random_conv",)
  c.features.kind = "random_patches"
  c.ridges = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
  # KeystoneML's and nondeep's choices and one between: 3 x 3 x 2 featurizations, about 5 min each on 2 cores
  c.grid.threshold = (0.25, 0.5, 1.0)
  c.grid.zca_eps = (1e-3, 1e-2, 1e-1)
  c.grid.regions = (2, 3)
  return c
