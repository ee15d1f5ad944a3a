"""Table 2 and Figure 2a: Inception V3 on ImageNet (ILSVRC 2012), one preset per row.

==================  ============  =======  ============  ===================================
preset              augmentation  dropout  weight decay  paper (top-1 train / test / top-5)
==================  ============  =======  ============  ===================================
``all``             yes           yes      yes           92.18 / 77.84 / 93.92
``aug``             yes           no       no            92.33 / 72.95 / 90.43
``wd``              no            no       yes           90.60 / 67.18 / 86.44
``none``            no            no       no            99.53 / 59.80 / 80.38
``random_labels``   no            no       no            95.20 train top-1
``tiny``            the ``none`` row at 75x75 and batch 8, for a CPU smoke test
==================  ============  =======  ============  ===================================

The paper states the network and the regularizers, not the optimizer for ImageNet. Chosen
here, consistent with its CIFAR-10 settings: SGD with momentum 0.9, learning rate 0.1 at
batch 256 (scale it linearly with ``batch_size``), decayed x0.95 per epoch (1,281,167
examples), 100 epochs; weight decay 4e-5 (TF-slim's Inception V3 default; the CIFAR-10
value 5e-4 is far stronger than what Inception V3 is usually trained with); dropout 0.2
before the classifier (TF-slim's keep probability 0.8); BatchNorm decay 0.9997; no
auxiliary head, no label smoothing. Augmentation is Inception's random-sized crop and flip;
without it, training images get the evaluation's central crop.

    python experiments/imagenet.py --config rethink_jax/configs/imagenet.py:all --config.data.data_dir=~/tensorflow_datasets
    python experiments/imagenet.py --config rethink_jax/configs/imagenet.py:none --config.data.source=jpeg --config.data.data_dir=/data/imagenet
"""

import ml_collections

from rethink_jax.configs import schema

ROWS = {"all": (True, 0.2, True), "aug": (True, 0.0, False), "wd": (False, 0.0, True), "none": (False, 0.0, False),
        "random_labels": (False, 0.0, False), "tiny": (False, 0.0, False)}
PRESETS = tuple(ROWS)
IMAGENET_TRAIN_SIZE = 1_281_167
WEIGHT_DECAY = 4e-5


def get_config(preset: str = "none") -> ml_collections.ConfigDict:
  if preset not in ROWS:
    raise ValueError(f"Unknown preset {preset!r}; choose one of {tuple(ROWS)}.")
  augment, dropout, weight_decay = ROWS[preset]
  c = schema.config_from(schema.IMAGENET)
  c.row = preset
  c.dropout = dropout
  c.augment.inception_crop = augment
  c.corruption.kind = "random_labels" if preset == "random_labels" else "true_labels"
  c.optim.weight_decay = WEIGHT_DECAY if weight_decay else 0.0
  c.eval_at_start = False
  c.log_every_steps = 100
  c.eval_every_steps = 5004       # one epoch at batch 256
  c.checkpoint_every_steps = 2000
  if preset == "tiny":
    c.data.image_size = 75        # the smallest input Inception V3 accepts
    c.data.num_threads = 4
    c.batch_size = 8
    c.eval_batch_size = 8
    c.num_epochs = 1.0
    c.eval_train_examples = 16
    c.log_every_steps = 1
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
    c.optim.decay_examples = 1000
  return c
