"""Table 2 and Figure 2a (ImageNet, Inception V3): one row of Table 2 per call.

The same as ``rethink-jax imagenet`` (or ``python -m rethink_jax imagenet``); the code is
``rethink_jax/commands/imagenet.py``.
"""

from rethink_jax.commands import imagenet

if __name__ == "__main__":
  imagenet.main()
