"""ImageNet (ILSVRC 2012) for the paper's Table 2 and Figure 2a: Inception V3 trained with
and without augmentation, dropout and weight decay, and on random labels (Section 2).

Unlike CIFAR-10 (150 MB, kept on the devices), ImageNet is streamed from the host. Each
concern has its module; every name below is importable from ``rethink_jax.imagenet``:

* **Sources** (:mod:`rethink_jax.imagenet.sources`, random access by example index):
  :class:`JpegDirectory` for the standard ``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``
  layout, and :class:`TfdsSource` for a prepared TFDS ``imagenet2012`` read with
  ``tfds.data_source`` (no TensorFlow needed to read an ``array_record`` build).
* **Preprocessing** (:mod:`rethink_jax.imagenet.preprocess`; Inception, Szegedy et al.
  2016): training with augmentation takes a random crop covering 8-100% of the image with
  aspect ratio 3/4-4/3, resized to 299, and a random flip; evaluation (and training without
  augmentation) takes the central 87.5% and resizes it. Images travel as ``uint8`` and are
  scaled to ``[-1, 1]`` on the device.
* **Pipeline** (:mod:`rethink_jax.imagenet.pipeline`): grain's ``MapDataset`` over
  positions of the training stream, decoded and preprocessed by a thread pool. The order of
  epoch ``e`` is a permutation drawn from ``(seed, e)``; global batch ``s`` is positions
  ``s*B .. (s+1)*B - 1`` and each host reads its own contiguous ``B / num_hosts`` of them;
  augmentation draws come from ``(seed, position)``. So every host, thread count and resume
  sees the same examples and the same crops.
* **Engine** (:mod:`rethink_jax.imagenet.engine`): the train step, with **label
  corruption** applied inside it by example index
  (:func:`rethink_jax.corruptions.partial_labels_by_index`), so it is fixed once for the
  whole run, as the paper requires, without a table of 1.28 million labels; **evaluation**:
  top-1 and top-5 on the validation set, and top-1 on a fixed subset of the (corrupted)
  training set, as Table 2 reports; :func:`train_and_evaluate`, one Table 2 row through the
  shared loop.

The modules import one way only: ``sources`` and ``preprocess`` stand alone, ``pipeline``
uses ``preprocess``, and ``engine`` uses all three.
"""

from rethink_jax.imagenet.engine import (corruption_record, make_imagenet_step, top_k_correct,
                                         train_and_evaluate)
from rethink_jax.imagenet.pipeline import eval_batches, train_batches
from rethink_jax.imagenet.preprocess import (EVAL_CROP_FRACTION, IMAGE_SIZE, decode_image, inception_crop_box,
                                             preprocess_eval, preprocess_train, to_model_input)
from rethink_jax.imagenet.sources import (IMAGE_SUFFIXES, NUM_CLASSES, PREPARE_TFDS, JpegDirectory, TfdsSource,
                                          open_source)

__all__ = ["JpegDirectory", "TfdsSource", "open_source", "decode_image", "inception_crop_box", "preprocess_train",
           "preprocess_eval", "to_model_input", "top_k_correct", "train_batches", "eval_batches",
           "train_and_evaluate", "make_imagenet_step", "corruption_record", "IMAGE_SIZE", "NUM_CLASSES",
           "EVAL_CROP_FRACTION", "PREPARE_TFDS"]
