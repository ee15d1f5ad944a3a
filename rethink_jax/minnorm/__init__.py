"""Min-norm linear and kernel solutions (Zhang et al., 2017, Section 5).

Independent of the training engine: it needs only arrays (and the data loaders for its
experiments). ``fit(x, y, kernel=...)`` returns a predictor with ``predict``, ``alpha``,
``norm()`` and ``residual``; ``min_norm_linear`` gives the primal solution.
"""

from rethink_jax.minnorm.features import gabor_bank, gabor_features, random_conv_features, random_conv_gram
from rethink_jax.minnorm.kernels import gaussian, laplacian, linear
from rethink_jax.minnorm.patches import GramCheckpointError, random_patch_features, random_patch_gram
from rethink_jax.minnorm.solve import (IllConditionedWarning, Predictor, encode_targets, fit, gram,
                                       memory_needed, min_norm_linear, predict_precomputed)

__all__ = ["gabor_bank", "gabor_features", "random_conv_features", "random_conv_gram", "random_patch_features",
           "random_patch_gram", "GramCheckpointError", "predict_precomputed", "linear", "gaussian", "laplacian", "fit", "Predictor", "gram", "min_norm_linear", "encode_targets",
           "memory_needed", "IllConditionedWarning"]
