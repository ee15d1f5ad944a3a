"""One line on what each config entry means, for ``--help`` and the docs.

Keys are dotted as on the command line (``--config.optim.lr=0.1``); a sweep's own entries
sit under ``sweep.``; the entries of the run nested in Theorem 1's Rademacher estimate
(``rademacher.train.``) mean what they mean in a single run. :func:`describe` finds the line for any of them.
"""

from __future__ import annotations

__all__ = ["MEANINGS", "describe"]

MEANINGS = {
    # a training run (configs/common.py)
    "seed": "root of every random stream: corruption, initialisation, data order, dropout",
    "model": "network: inception_small, inception_small_nobn, alexnet_small, mlp_1x512, mlp_3x512 "
             "(a sweep over models: empty for every model of sweep.models)",
    "dropout": "dropout rate before the classifier (0: none)",
    "compute_dtype": "float32, or bfloat16 matmuls on GPU/TPU (parameters and loss stay float32)",
    "data.name": "cifar10 or mnist",
    "data.source": "sample (embedded, lossless), files (official files or <name>.npz) or tfds",
    "data.data_dir": "folder of the files or TFDS data (empty: $RETHINK_JAX_DATA or TFDS' default)",
    "data.crop": "side of the centre (or random) crop fed to the network; the paper's 28",
    "data.max_train": "> 0: train on the first max_train examples only (canonical order)",
    "data.max_test": "> 0: evaluate on the first max_test test examples only",
    "corruption.kind": "randomization test: true_labels, partial_labels, random_labels, shuffled_pixels, "
                       "random_pixels, gaussian; or asymmetric_labels, cifar10n",
    "corruption.p": "corruption probability for partial_labels and asymmetric_labels",
    "corruption.variant": "CIFAR-10N label set for cifar10n: aggregate, random1, random2, random3, worst",
    "corruption.labels_file": "CIFAR-10N file (CIFAR-10_human.pt from github.com/UCSC-REAL/cifar-10-100n)",
    "corruption.corrupt_test": "corrupt the test labels too (the paper keeps them clean)",
    "augment.random_crop": "random crop instead of the centre crop (Table 1)",
    "augment.flip": "random horizontal flips (Appendix)",
    "augment.rotate_degrees": "random rotations up to this angle (Appendix: 25; 0: none)",
    "optim.lr": "initial learning rate of SGD with momentum",
    "optim.momentum": "SGD momentum (paper: 0.9)",
    "optim.lr_decay": "learning-rate factor per decay_examples examples seen (paper: 0.95 per epoch)",
    "optim.decay_examples": "examples per learning-rate decay step (50,000: one CIFAR-10 epoch)",
    "optim.weight_decay": "L2 coefficient on weights, as weight_decay * 0.5 * ||W||^2 (0: none)",
    "batch_size": "training batch, split over the devices",
    "eval_batch_size": "evaluation batch",
    "num_epochs": "training budget in epochs (a longer budget continues a finished run)",
    "log_every_steps": "steps between metrics rows",
    "eval_every_steps": "steps between evaluations of the whole train and test sets",
    "checkpoint_every_steps": "steps between checkpoints",
    "keep_checkpoints": "checkpoints kept on disk",
    "fit_threshold": "train accuracy that counts as fitted (time to fit)",
    "stop_at_fit": "stop at the first evaluation that reaches fit_threshold",
    "track_examples": "keep per-example records of every train-set evaluation (examples.npz)",
    "progress": "progress bar at a terminal, one line per evaluation elsewhere",
    "workdir": "run directory (empty: runs/<experiment>/<model>-<corruption>-<source>-seed<seed>-<hash>)",
    "wandb.project": "Weights & Biases project to log to (empty: no W&B)",
    "wandb.entity": "Weights & Biases entity (team or user)",
    # sweeps
    "sweep.models": "the models the sweep trains when model is empty",
    "sweep.paper_lr": "each model at its paper learning rate (Inception 0.1, others 0.01); False: optim.lr",
    "sweep.kinds": "the randomization tests of Figure 1a",
    "sweep.levels": "label corruption levels p of the sweep",
    "sweep.seeds": "seeds per level (empty: just seed); several give error bars",
    "sweep.vmapped": "train runs that differ only in labels or seeds as one vmapped program",
    "sweep.random_labels": "add a random-labels run per model",
    "sweep.random_label_epochs": "epoch budget of the random-labels rows",
    "sweep.weight_decay": "weight decay of the rows that use it (paper's value not stated; 5e-4)",
    "sweep.rows": "Table 1 rows to run (crop0-wd0, crop0-wd1, crop1-wd0, crop1-wd1, random_labels; empty: all)",
    "sweep.appendix": "the Appendix table (random labels with regularizers) instead of Table 1",
    # ImageNet
    "row": "Table 2 row: all, aug, wd, none, random_labels (tiny: CPU smoke test)",
    "data.image_size": "side of the network's input (Inception V3: 299)",
    "data.num_threads": "host threads decoding images",
    "augment.inception_crop": "Inception's random-sized crop and flip",
    "eval_at_start": "evaluate before the first step",
    "eval_train_examples": "training examples evaluated at each evaluation",
    "eval_test_examples": "> 0: validation examples evaluated (0: all)",
    # min-norm (Section 5)
    "bandwidth": "Gaussian kernel bandwidth on standardized pixels",
    "raw_bandwidth": "Gaussian kernel bandwidth on raw pixels in [0, 1]",
    "gabor_bandwidth": "Gaussian kernel bandwidth on Gabor features",
    "num_filters": "random convolutional filters",
    "filter_block": "filters computed per block (memory against speed)",
    "ridges": "ridge values solved for (0: min-norm interpolation)",
    "ridge": "ridge value (0: min-norm interpolation)",
    "methods": "which rows: gaussian, random_conv",
    "gram_dtype": "dtype of the random-features Gram matrix (float32 halves its memory)",
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

_NESTED = ("rademacher.train.",)


def describe(key: str) -> str:
  """The meaning of a dotted config key, or ``""`` if none is recorded."""
  if key in MEANINGS:
    return MEANINGS[key]
  for prefix in _NESTED:
    if key.startswith(prefix) and key[len(prefix):] in MEANINGS:
      return MEANINGS[key[len(prefix):]]
  return ""
