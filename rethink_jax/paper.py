"""The paper's reported numbers (Zhang et al., 2017), for reports that print them beside ours."""

# Figure 1a: the five randomization tests whose loss curves it draws, in its legend's order.
FIGURE1_KINDS = ("true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian")
# Section 2: the order in which they converge (fastest first).
FIGURE1_CONVERGENCE_ORDER = ("true_labels", "shuffled_pixels", "random_pixels", "gaussian", "random_labels")

# Table 1: (model, random_crop, weight_decay, random_labels) -> (train %, test %)
TABLE1 = {
    ("inception_small", True, True, False): (100.0, 89.05),
    ("inception_small", True, False, False): (100.0, 89.31),
    ("inception_small", False, True, False): (100.0, 86.03),
    ("inception_small", False, False, False): (100.0, 85.75),
    ("inception_small", False, False, True): (100.0, 9.78),
    ("inception_small_nobn", False, True, False): (100.0, 83.00),
    ("inception_small_nobn", False, False, False): (100.0, 82.00),
    ("inception_small_nobn", False, False, True): (100.0, 10.12),
    ("alexnet_small", True, True, False): (99.90, 81.22),
    ("alexnet_small", True, False, False): (99.82, 79.66),
    ("alexnet_small", False, True, False): (100.0, 77.36),
    ("alexnet_small", False, False, False): (100.0, 76.07),
    ("alexnet_small", False, False, True): (99.82, 9.86),
    ("mlp_3x512", False, True, False): (100.0, 53.35),
    ("mlp_3x512", False, False, False): (100.0, 52.39),
    ("mlp_3x512", False, False, True): (100.0, 10.48),
    ("mlp_1x512", False, True, False): (99.80, 50.39),
    ("mlp_1x512", False, False, False): (100.0, 50.51),
    ("mlp_1x512", False, False, True): (99.34, 10.61),
}

# Appendix: random labels with regularizers -> train accuracy % (None: fails to converge)
APPENDIX = {
    ("inception_small", "weight decay"): 100.0,
    ("alexnet_small", "weight decay"): None,
    ("mlp_3x512", "weight decay"): 100.0,
    ("mlp_1x512", "weight decay"): 99.21,
    ("inception_small", "random crop"): 99.93,
    ("inception_small", "augmentation"): 99.28,
}

# Table 2 (ImageNet, Inception V3): row -> (top-1 train %, top-1 test %, top-5 test %,
# best top-1 test % during training where the paper gives it in parentheses)
TABLE2 = {
    "all": (92.18, 77.84, 93.92, None),
    "aug": (92.33, 72.95, 90.43, None),
    "wd": (90.60, 67.18, 86.44, 72.57),
    "none": (99.53, 59.80, 80.38, 63.16),
    "random_labels": (95.20, None, None, None),
}
TABLE2_ROWS = {"all": "augmentation, dropout, weight decay", "aug": "augmentation", "wd": "weight decay",
               "none": "none", "random_labels": "none, random labels"}


# Section 5: test error (%) of the min-norm interpolants, as the paper reports them.
MINNORM_MNIST = {"raw pixels": 1.2, "Gabor features": 0.6}
MINNORM_CIFAR10 = {"gaussian": 46.0, "random_conv": 17.0, "random_conv_ridge": 15.0}
