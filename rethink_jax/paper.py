"""The paper's reported numbers (Zhang et al., 2017), for reports that print them beside ours."""

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
