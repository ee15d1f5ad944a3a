"""rethink_jax: *Understanding deep learning requires rethinking generalization* in JAX.

Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017; CACM 2021). Submodules:

* :mod:`rethink_jax.data`: CIFAR-10 and MNIST from the embedded sample, files or TFDS;
* :mod:`rethink_jax.preprocess`: the paper's preprocessing (Appendix A);
* :mod:`rethink_jax.corruptions`: the randomization tests (Section 2).

Importing the package sets XLA:CPU flags that speed up convolutions on CPU
(:mod:`rethink_jax.cpu_flags`; opt out with ``RETHINK_JAX_CPU_FLAGS=0``).
"""

from rethink_jax import cpu_flags

cpu_flags.apply()  # before anything creates JAX's backends

from rethink_jax import corruptions, data, preprocess  # noqa: E402

__version__ = "0.1.0"
__all__ = ["corruptions", "data", "preprocess", "__version__"]
