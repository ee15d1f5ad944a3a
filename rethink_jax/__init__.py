"""rethink_jax: *Understanding deep learning requires rethinking generalization* in JAX.

Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017; CACM 2021). Submodules:

* :mod:`rethink_jax.data`: CIFAR-10 and MNIST from the embedded sample, files or TFDS;
* :mod:`rethink_jax.preprocess`: the paper's preprocessing (Appendix A);
* :mod:`rethink_jax.corruptions`: the randomization tests (Section 2).
"""

from rethink_jax import corruptions, data, preprocess

__version__ = "0.1.0"
__all__ = ["corruptions", "data", "preprocess", "__version__"]
