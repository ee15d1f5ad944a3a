"""Every config key, declared once: its default, what values it takes, what it means, and
whether it is part of what a run computes.

* :data:`RUN`: a training run on CIFAR-10 or MNIST (``common.base_config()`` is built from
  it); :data:`IMAGENET`: an ImageNet run (``configs/imagenet.py``);
* :data:`SWEEP`: a sweep's own entries (``sweep.*``), read with :func:`setting` (a sweep's
  presets set the ones it uses; the others take their declared defaults);
* :data:`OTHER`: the entries of the min-norm and Theorem 1 scripts, with their meanings
  (their presets set their values).

``--help``, :mod:`rethink_jax.validation`, the docs' key table and the run-identity
rule (:func:`rethink_jax.records.identity`) all read this module. It imports nothing of the
library: configs sit at the bottom of the import graph.

A key's ``rule`` is one of ``"int>0"``, ``"int>=0"``, ``">0"`` (a finite number), an
interval such as ``"[0,1)"``, ``"bool"``, ``"str"``, a tuple of allowed values, or
``"tuple of RULE"`` (each element follows RULE), or
``"@name"``: the names of a registry that lives with its concern (``@models``,
``@datasets``, ``@sources``, ``@corruptions``), resolved when a config is checked.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections

__all__ = ["ConfigError", "Key", "RUN", "IMAGENET", "SWEEP", "OTHER", "HOW_KEYS", "NEUTRAL_DEFAULTS", "config_from", "complete", "flatten", "default",
           "setting", "describe", "key_table"]


class ConfigError(ValueError):
  """A config entry has a value the library cannot use; the message names the key (one line)."""


@dataclasses.dataclass(frozen=True)
class Key:
  """One config entry: ``default``, ``rule`` (see the module's docstring), ``meaning`` (one
  line), and ``identity``: False for entries that change how a run goes (how long, how
  often it reports, where it writes), never what a step computes; ``neutral``: the entry
  was added after runs were recorded without it, so at its default it is left out of the
  identity and older run directories keep their hashes."""

  default: Any
  rule: Any
  meaning: str
  identity: bool = True
  neutral: bool = False


_LOOP = {  # entries of the one loop (rethink_jax.loop), the same for every engine
    "num_epochs": Key(100.0, ">0", "training budget in epochs (a longer budget continues a finished run)",
                      identity=False),
    "log_every_steps": Key(50, "int>0", "steps between metrics rows", identity=False),
    "eval_every_steps": Key(100, "int>0", "steps between evaluations of the whole train and test sets", identity=False),
    "checkpoint_every_steps": Key(500, "int>0", "steps between checkpoints", identity=False),
    "keep_checkpoints": Key(2, "int>0", "checkpoints kept on disk", identity=False),
    "fit_threshold": Key(1.0, "(0,1]", "train accuracy that counts as fitted (time to fit)"),
    "stop_at_fit": Key(False, "bool", "stop at the first evaluation that reaches fit_threshold", identity=False),
    "eval_at_start": Key(True, "bool", "evaluate before the first step", identity=False),
    "track_examples": Key(False, "bool", "keep per-example records of every train-set evaluation (examples.npz)",
                          identity=False),
    "progress": Key(True, "bool", "progress bar at a terminal, one line per evaluation elsewhere", identity=False),
    "workdir": Key("", "str", "run directory (empty: runs/<experiment>/<model>-<corruption>-<source>-seed<seed>-<hash>)",
                   identity=False),
    "wandb.project": Key("", "str", "Weights & Biases project to log to (empty: no W&B)", identity=False),
    "wandb.entity": Key("", "str", "Weights & Biases entity (team or user)", identity=False),
}

RUN: dict[str, Key] = {
    "seed": Key(0, "int>=0", "root of every random stream: corruption, initialisation, data order, dropout"),
    "model": Key("mlp_1x512", "@models", "network: inception_small, inception_small_nobn, alexnet_small, mlp_1x512, "
                 "mlp_3x512 (a sweep over models: empty for every model of sweep.models)"),
    "dropout": Key(0.0, "[0,1)", "dropout rate before the classifier (0: none)"),
    "compute_dtype": Key("float32", ("float32", "bfloat16"),
                         "float32, or bfloat16 matmuls on GPU/TPU (parameters and loss stay float32)"),
    "conv_impl": Key("xla", ("xla", "im2col"), "how a convolution is computed: XLA's convolution, or im2col as one "
                     "matrix product (the same numbers up to rounding)", identity=False),
    "data.name": Key("cifar10", "@datasets", "cifar10, mnist or cifar100 (files or tfds only); with source arrays, your arrays' name"),
    "data.source": Key("sample", "@sources", "sample (embedded, lossless), files (official files or <name>.npz), tfds, "
                       "or arrays (your own, passed as dataset=)"),
    "data.data_dir": Key("", "str", "folder of the files or TFDS data (empty: $RETHINK_JAX_DATA or TFDS' default)"),
    "data.crop": Key(28, "int>0", "side of the centre (or random) crop fed to the network; the paper's 28"),
    "data.max_train": Key(0, "int>=0", "> 0: train on the first max_train examples only (canonical order)"),
    "data.max_test": Key(0, "int>=0", "> 0: evaluate on the first max_test test examples only"),
    "corruption.kind": Key("true_labels", "@corruptions", "randomization test: true_labels, partial_labels, "
                           "random_labels, shuffled_pixels, random_pixels, gaussian; or asymmetric_labels, cifar10n"),
    "corruption.p": Key(0.0, "[0,1]", "corruption probability for partial_labels and asymmetric_labels"),
    "corruption.variant": Key("", "str", "CIFAR-10N label set for cifar10n: aggregate, random1, random2, random3, "
                              "worst", neutral=True),
    "corruption.labels_file": Key("", "str", "CIFAR-10N file (CIFAR-10_human.pt from "
                                  "github.com/UCSC-REAL/cifar-10-100n)", neutral=True),
    "corruption.corrupt_test": Key(False, "bool", "corrupt the test labels too (the paper keeps them clean)",
                                   neutral=True),
    "subset.ratio": Key(1.0, "(0,1]", "fraction of the training set the run trains on: a random subset drawn once "
                        "from its keys, saved as subset.npz; epochs are over it (1: all of it)", neutral=True),
    "subset.index": Key(0, "int>=0", "which run of a group of subset-trained runs: its subset, initialisation and "
                        "data order come from (seed, index), its label noise from seed alone", neutral=True),
    "augment.random_crop": Key(False, "bool", "random crop instead of the centre crop (Table 1)"),
    "augment.flip": Key(False, "bool", "random horizontal flips (Appendix)"),
    "augment.rotate_degrees": Key(0.0, "[0,180]", "random rotations up to this angle (Appendix: 25; 0: none)"),
    "optim.lr": Key(0.01, ">0", "initial learning rate of SGD with momentum"),
    "optim.momentum": Key(0.9, "[0,1)", "SGD momentum (paper: 0.9)"),
    "optim.lr_decay": Key(0.95, "(0,1]", "learning-rate factor per decay_examples examples seen (paper: 0.95 per epoch)"),
    "optim.decay_examples": Key(50_000, ">0", "examples per learning-rate decay step (50,000: one CIFAR-10 epoch)"),
    "optim.weight_decay": Key(0.0, "[0,inf)", "L2 coefficient on weights, as weight_decay * 0.5 * ||W||^2 (0: none)"),
    "batch_size": Key(128, "int>0", "training batch, split over the devices"),
    "eval_batch_size": Key(500, "int>0", "evaluation batch"),
    **_LOOP,
}

IMAGENET: dict[str, Key] = {
    "row": Key("none", "str", "Table 2 row: all, aug, wd, none, random_labels (tiny: CPU smoke test)"),
    "seed": RUN["seed"],
    "model": Key("inception_v3", "@imagenet_models", "network: inception_v3, or a CIFAR-10 model for smoke tests"),
    "dropout": RUN["dropout"],
    "compute_dtype": RUN["compute_dtype"],
    "conv_impl": RUN["conv_impl"],
    "data.name": Key("imagenet2012", ("imagenet2012",), "ILSVRC 2012"),
    "data.source": Key("tfds", ("tfds", "jpeg"), "tfds (a prepared imagenet2012) or jpeg (a class-per-folder tree)"),
    "data.data_dir": Key("", "str", "folder of the TFDS data or the JPEG tree"),
    "data.image_size": Key(299, "int>0", "side of the network's input (Inception V3: 299)"),
    "data.num_threads": Key(16, "int>0", "host threads decoding images", identity=False),
    "augment.inception_crop": Key(False, "bool", "Inception's random-sized crop and flip"),
    "corruption.kind": Key("true_labels", ("true_labels", "random_labels", "partial_labels"),
                           "true_labels, random_labels or partial_labels"),
    "corruption.p": RUN["corruption.p"],
    "optim.lr": Key(0.1, ">0", "initial learning rate of SGD with momentum (at batch 256; scale it with batch_size)"),
    "optim.momentum": RUN["optim.momentum"],
    "optim.lr_decay": RUN["optim.lr_decay"],
    "optim.decay_examples": Key(1_281_167, ">0", "examples per learning-rate decay step (one ImageNet epoch)"),
    "optim.weight_decay": RUN["optim.weight_decay"],
    "batch_size": Key(256, "int>0", "training batch, split over the devices"),
    "eval_batch_size": RUN["eval_batch_size"],
    "eval_train_examples": Key(50_000, "int>0", "training examples evaluated at each evaluation"),
    "eval_test_examples": Key(0, "int>=0", "> 0: validation examples evaluated (0: all)"),
    # ImageNet runs were recorded without the loop's fit entries: they take the declared
    # defaults (setting()), and per-example records are not kept.
    **{k: v for k, v in _LOOP.items() if k not in ("fit_threshold", "stop_at_fit", "track_examples")},
}

SWEEP = {  # a sweep's own entries (config.sweep.*); each sweep's presets set the ones it uses
    "sweep.models": Key((), "tuple of @models", "the models the sweep trains when model is empty"),
    "sweep.paper_lr": Key(True, "bool", "each model at its paper learning rate (Inception 0.1, others 0.01); "
                          "False: optim.lr"),
    "sweep.kinds": Key((), "tuple of @corruptions", "the randomization tests of Figure 1a"),
    "sweep.levels": Key((), "tuple of [0,1]", "label corruption levels p of the sweep"),
    "sweep.seeds": Key((), "tuple of int>=0", "seeds per level (empty: just seed); several give error bars"),
    "sweep.vmapped": Key(False, "bool", "train runs that differ only in labels or seeds as one vmapped program"),
    "sweep.random_labels": Key(False, "bool", "add a random-labels run per model"),
    "sweep.random_label_epochs": Key(200.0, ">0", "epoch budget of the random-labels rows"),
    "sweep.weight_decay": Key(5e-4, "[0,1)", "weight decay of the rows that use it (paper's value not stated)"),
    "sweep.rows": Key((), "tuple of str", "Table 1 rows to run (crop0-wd0, crop0-wd1, crop1-wd0, crop1-wd1, "
                      "random_labels; empty: all)"),
    "sweep.appendix": Key(False, "bool", "the Appendix table (random labels with regularizers) instead of Table 1"),
    "sweep.runs": Key(16, "int>0", "subset-trained runs per ratio (K), each on its own random subset"),
    "sweep.ratios": Key((0.7,), "tuple of (0,1)", "subset ratios (Feldman & Zhang: 0.7; several give C-scores)"),
}

OTHER = {  # meanings of entries whose values each script's presets set
    # min-norm (Section 5)
    "bandwidth": "Gaussian kernel bandwidth on standardized pixels",
    "raw_bandwidth": "Gaussian kernel bandwidth on raw pixels in [0, 1]",
    "gabor_bandwidth": "Gaussian kernel bandwidth on Gabor features",
    "num_filters": "random convolutional filters",
    "filter_block": "filters computed per block (memory against speed)",
    "ridges": "ridge values solved for (0: min-norm interpolation)",
    "ridge": "ridge value (0: min-norm interpolation)",
    "ridge_heldout": ("> 0: solve each of ridges on all but the last ridge_heldout training images (the same Gram "
                      "matrix's blocks) and score it on those; then the test error at the lowest held-out error's "
                      "ridge only"),
    "methods": "which rows: gaussian, random_conv",
    "gram_dtype": "dtype of the random-features Gram matrix (float32 halves its memory)",
    "data.heldout": ("> 0: evaluate on the last heldout of the training images (not trained on) instead of the "
                     "test set, for choosing parameters"),
    "features.kind": ("random features of the random_conv row: gaussian_filters (Gaussian filters, ReLU, 2x2 "
                      "average pooling) or random_patches (whitened training patches, as the authors' group's code)"),
    "features.patch_size": "random_patches: side of the training patches used as filters",
    "features.threshold": "random_patches: symmetric rectifier offset a in max(0, r - a), max(0, -r - a)",
    "features.zca_eps": "random_patches: added to the patch covariance's eigenvalues before ZCA whitening",
    "features.patch_norm_eps": "random_patches: added to each patch's variance (0-255 pixels) before normalizing it",
    "features.regions": "random_patches: pooling regions per side of each feature map",
    "features.standardize": ("random_patches: scale each feature to mean 0, variance 1 over the training set "
                             "(with a constant intercept feature)"),
    "features.whiten_patches": "random_patches: training patches the ZCA whitener is fitted on",
    "gram_checkpoint": "random_patches: .npz file for the partial Gram sums; a re-run resumes from it ('': none)",
    "gram_checkpoint_every": "filter blocks between Gram checkpoints (and one after the last block)",
    "grid.threshold": "random_patches: features.threshold values to try (every combination of the grid.* entries)",
    "grid.zca_eps": "random_patches: features.zca_eps values to try (every combination of the grid.* entries)",
    "grid.regions": "random_patches: features.regions values to try (every combination of the grid.* entries)",
    "solver": "auto, cholesky or cg",
    "encoding": "target encoding: onehot or centered",
    "features": "which systems to solve: raw, gabor",
    # Theorem 1 (Section 4) and Rademacher estimates (Section 2.3)
    "theta": "Theorem 1's offset between consecutive sorted projections",
    "one_hot": "fit one-hot random labels (classify by argmax)",
    "sizes": "sample sizes n fitted by Theorem 1's network",
    "rademacher.num_draws": "Rademacher sign vectors drawn per estimate",
    "rademacher.linear_dims": "pixels of the linear model (d < n)",
    "rademacher.mlp": "estimate it for MLP 1x512 too (training engine)",
    "rademacher.n": "points of the Rademacher estimates",
}

_NESTED = ("rademacher.train.",)  # Theorem 1's Rademacher estimate nests a training run's entries

# The identity rule (rethink_jax.records.identity): the entries left out of what a run computes.
HOW_KEYS = tuple(dict.fromkeys(k for schema in (RUN, IMAGENET) for k, key in schema.items() if not key.identity))
# Entries outside RUN added after records were written: at these values they compute what those records did.
OTHER_NEUTRAL = {"ridge_heldout": 0}
NEUTRAL_DEFAULTS = {**{k: key.default for k, key in RUN.items() if key.neutral}, **OTHER_NEUTRAL}


def config_from(schema: dict[str, Key]) -> ml_collections.ConfigDict:
  """A config holding every key of ``schema`` at its default."""
  c = ml_collections.ConfigDict()
  for dotted, key in schema.items():
    *parents, leaf = dotted.split(".")
    node = c
    for p in parents:
      if p not in node:
        node[p] = ml_collections.ConfigDict()
      node = node[p]
    node[leaf] = key.default
  return c


def flatten(config, prefix: str = "") -> dict[str, Any]:
  """``{dotted key: value}`` of a config (a ConfigDict or a plain nested dict), in its order."""
  out = {}
  for key, value in config.items():
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def default(dotted: str) -> Any:
  """The declared default of a run's or a sweep's key (for records written before the key
  existed, and for a sweep's entries its presets leave out)."""
  for table in (RUN, IMAGENET, SWEEP):
    if dotted in table:
      return table[dotted].default
  raise KeyError(f"config key {dotted!r} is not declared in rethink_jax.configs.schema")


def setting(config, dotted: str) -> Any:
  """``config``'s value of a run key, or the declared default where the config's schema has
  no such key (an ImageNet config has no ``fit_threshold``; a record from before a key
  existed)."""
  node = config
  for part in dotted.split("."):
    if part not in node:
      return default(dotted)
    node = node[part]
  return node


def complete(config, table: dict[str, Key] | None = None) -> ml_collections.ConfigDict:
  """A copy of ``config`` with every key of ``table`` (default :data:`RUN`) it lacks added at
  its default: a config read back from a record written before those keys existed."""
  out = ml_collections.ConfigDict(config.to_dict() if hasattr(config, "to_dict") else dict(config))
  for dotted, key in (RUN if table is None else table).items():
    *parents, leaf = dotted.split(".")
    node = out
    for p in parents:
      if p not in node:
        node[p] = ml_collections.ConfigDict()
      node = node[p]
    if leaf not in node:
      node[leaf] = key.default
  return out


def _rule_text(rule: Any) -> str:
  if isinstance(rule, str) and rule.startswith("tuple of "):
    return f"tuple, each {_rule_text(rule[len('tuple of '):])}"
  if isinstance(rule, tuple):
    return ", ".join(map(repr, rule))
  return {"int>0": "integer > 0", "int>=0": "integer >= 0", ">0": "number > 0", "bool": "True / False",
          "str": "string"}.get(rule, rule if not rule.startswith("@") else f"a name of {rule[1:]}")


def key_table(table: dict[str, Key] | None = None) -> str:
  """The markdown table of a schema's keys (default :data:`RUN`), as docs/experiments.md shows
  it. :data:`SWEEP`'s has no identity column: a sweep's entries only choose its runs, each
  run's own config is its identity."""
  table = RUN if table is None else table
  sweep = table is SWEEP
  lines = (["| key | default | values | meaning |", "|---|---|---|---|"] if sweep else
           ["| key | default | values | part of the run's identity | meaning |", "|---|---|---|---|---|"])
  for name, key in table.items():
    ident = "yes" if key.identity and not key.neutral else ("no" if not key.identity else "yes, unless default")
    meaning = key.meaning.replace("|", "\\|")
    lines.append(f"| `{name}` | `{key.default!r}` | {_rule_text(key.rule)} |" + ("" if sweep else f" {ident} |")
                 + f" {meaning} |")
  return "\n".join(lines) + "\n"


def describe(dotted: str) -> str:
  """The meaning of a dotted config key, or ``""`` if none is declared."""
  for prefix in ("",) + _NESTED:
    if dotted.startswith(prefix):
      k = dotted[len(prefix):]
      for table in (RUN, IMAGENET, SWEEP):
        if k in table:
          return table[k].meaning
      if k in OTHER:
        return OTHER[k]
  return ""
