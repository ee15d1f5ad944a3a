"""ImageNet (ILSVRC 2012) sources for Table 2 and Figure 2a of the paper: random access by
example index, ``source[i] == {"image": ..., "label": int}``, checked when opened.

* :class:`JpegDirectory`: the standard ``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``
  layout; a split with missing or unknown classes is refused as a partial copy.
* :class:`TfdsSource`: a prepared TFDS ``imagenet2012`` read with ``tfds.data_source`` (no
  TensorFlow needed to read an ``array_record`` build); if it is not prepared, the error says
  how to prepare it (:data:`PREPARE_TFDS`).
* :func:`open_source`: the one that ``config.data`` names.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import ml_collections
import numpy as np

from rethink_jax.data import DataError

NUM_CLASSES = 1000
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
PREPARE_TFDS = (
    "Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org into "
    "{manual_dir}, then install the tfds extra (`pip install -e '.[tfds]'` in a clone) and "
    "`tfds build imagenet2012 --data_dir={data_dir} --manual_dir={manual_dir} --file_format=array_record`.")


class JpegDirectory:
  """Images in ``root/<split>/<class>/<file>``; classes are the sorted directory names of
  ``root/train`` (or of the split itself when there is no ``train``), so ``train`` and ``val``
  share one class index. ``source[i]`` is ``{"image": bytes, "label": int}``."""

  def __init__(self, root: str | os.PathLike, split: str):
    root = pathlib.Path(root).expanduser()
    split_dir = root / split
    if not split_dir.is_dir():
      raise DataError(f"No ImageNet split directory {split_dir}: expected {root}/{{train,val}}/<class>/<image>.JPEG.")
    class_root = root / "train" if (root / "train").is_dir() else split_dir
    self.classes = sorted(d.name for d in class_root.iterdir() if d.is_dir())
    if not self.classes:
      raise DataError(f"{class_root} has no class directories.")
    present = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    unknown = sorted(set(present) - set(self.classes))
    if unknown:
      raise DataError(f"{split_dir} has class directories absent from {class_root}: {unknown[:5]}.")
    index = {c: i for i, c in enumerate(self.classes)}
    files, labels = [], []
    for c in present:
      for f in sorted((split_dir / c).iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
          files.append(f)
          labels.append(index[c])
    if not files:
      raise DataError(f"{split_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    missing = len(self.classes) - len(present)
    if missing:  # a partial copy: say so rather than train on a silently smaller problem
      raise DataError(f"{split_dir} is missing {missing} of the {len(self.classes)} classes "
                      f"(e.g. {sorted(set(self.classes) - set(present))[:3]}); the copy looks partial.")
    self.files, self.labels = files, np.asarray(labels, np.int32)
    self.num_classes = len(self.classes)
    self.provenance = f"JPEG directory {split_dir} ({len(files)} images, {self.num_classes} classes)"

  def __len__(self) -> int:
    return len(self.files)

  def __getitem__(self, i: int) -> dict[str, Any]:
    return {"image": self.files[i].read_bytes(), "label": int(self.labels[i])}


class TfdsSource:
  """A prepared TFDS ``imagenet2012`` split through ``tfds.data_source``."""

  def __init__(self, split: str, data_dir: str | os.PathLike | None = None, name: str = "imagenet2012"):
    import tensorflow_datasets as tfds  # heavy: only when asked for

    split = {"val": "validation"}.get(split, split)
    try:
      self._source = tfds.data_source(name, split=split, data_dir=None if data_dir is None else str(data_dir),
                                      download=False)
    except Exception as e:
      where = pathlib.Path(data_dir or "~/tensorflow_datasets").expanduser()
      raise DataError(f"TFDS {name!r} ({split}) is not prepared in {where} ({type(e).__name__}: {e}). " +
                      PREPARE_TFDS.format(manual_dir=where / "downloads" / "manual", data_dir=where)) from e
    self.num_classes = NUM_CLASSES
    self.provenance = f"tfds {name} {split} (data_source) in {data_dir or 'the default TFDS dir'}"

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, i: int) -> dict[str, Any]:
    example = self._source[i]
    return {"image": example["image"], "label": int(example["label"])}


def open_source(config: ml_collections.ConfigDict, split: str):
  """The source named by ``config.data``: ``source="tfds"`` or ``"jpeg"`` (``data_dir`` the root)."""
  if config.data.source == "jpeg":
    if not config.data.data_dir:
      raise DataError("data.source='jpeg' needs data.data_dir: the directory holding train/ and val/.")
    return JpegDirectory(config.data.data_dir, split)
  if config.data.source == "tfds":
    return TfdsSource(split, config.data.data_dir or None)
  raise DataError(f"Unknown ImageNet source {config.data.source!r}; choose 'tfds' or 'jpeg'.")
