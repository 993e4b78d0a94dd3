"""HRS and PP-HRS reproduce the published tables of Devaguptapu et al. (CIFAR-10 Table 1, ImageNet Table 5)."""

import math

import pytest

from robnas.errors import InvalidValueError
from robnas.metrics import hrs, pp_hrs

# Table 1 (CIFAR-10): model, clean %, PGD %, published HRS (HRS uses PGD accuracy).
TABLE1 = [
    ("ResNet-18", 93.48, 24.27, 38.53),
    ("ResNet-50", 94.38, 23.45, 37.57),
    ("DenseNet-121", 94.76, 24.06, 38.38),
    ("DenseNet-169", 94.74, 26.21, 41.06),
    ("VGG16 BN", 94.07, 20.03, 33.03),
    ("DARTS", 97.03, 7.09, 13.21),
    ("PDARTS", 97.12, 9.31, 16.99),
    ("NSGA Net", 96.94, 11.1, 19.92),
    ("Proxyless-NAS", 97.92, 3.22, 6.23),
    ("PC-DARTS", 97.05, 9.84, 17.87),
]

# Table 5 (ImageNet): family, variant, params (M), clean %, PGD %, published PP-HRS. The baseline of
# a family is its smallest member (DenseNAS's ResNet-space models R1-R3 form their own family).
TABLE5 = [
    ("EfficientNet", "B0", 5.29, 91.36, 8.11, 14.90),
    ("EfficientNet", "B1", 7.79, 88.89, 5.47, 7.00),
    ("EfficientNet", "B2", 9.11, 92.77, 11.40, 11.79),
    ("EfficientNet", "B3", 12.23, 93.04, 13.37, 10.11),
    ("EfficientNet", "B4", 19.34, 92.73, 16.99, 7.86),
    ("EfficientNet", "B5", 30.39, 90.95, 9.37, 2.96),
    ("EfficientNet", "B6", 43.04, 91.86, 11.71, 2.55),
    ("EfficientNet", "B7", 66.35, 91.57, 11.20, 1.59),
    ("DenseNAS-MBV2", "A", 4.77, 90.94, 1.84, 3.61),
    ("DenseNAS-MBV2", "B", 5.58, 91.89, 2.13, 3.56),
    ("DenseNAS-MBV2", "C", 6.13, 92.31, 2.29, 3.48),
    ("DenseNAS-MBV2", "Large", 6.48, 92.80, 2.97, 4.24),
    ("DenseNAS-R", "R1", 11.09, 91.33, 2.01, 3.93),
    ("DenseNAS-R", "R2", 19.47, 92.47, 3.19, 3.51),
    ("DenseNAS-R", "R3", 24.66, 93.81, 4.32, 3.71),
    ("ResNet", "18", 11.69, 89.08, 2.41, 4.69),
    ("ResNet", "50", 25.56, 92.86, 4.68, 4.08),
    ("DenseNet", "121", 7.98, 91.97, 6.93, 12.89),
    ("DenseNet", "169", 14.15, 92.81, 10.46, 10.60),
]


@pytest.mark.parametrize("name,clean,pgd,published", TABLE1, ids=[r[0] for r in TABLE1])
def test_hrs_reproduces_table1(name, clean, pgd, published):
    # Inputs are rounded to 2 decimals in the paper, so the last digit may differ by one.
    assert hrs(clean, pgd) == pytest.approx(published, abs=0.011)


@pytest.mark.parametrize("family,variant,params,clean,pgd,published", TABLE5,
                         ids=[f"{r[0]}-{r[1]}" for r in TABLE5])
def test_pp_hrs_reproduces_table5(family, variant, params, clean, pgd, published):
    baseline_params = min(r[2] for r in TABLE5 if r[0] == family)
    assert pp_hrs(hrs(clean, pgd), params, baseline_params) == pytest.approx(published, abs=0.011)


def test_hrs_beta_weights_adversarial_accuracy():
    # beta = 1 is the harmonic mean; a larger beta moves HRS_beta towards the adversarial accuracy.
    assert hrs(90.0, 30.0, beta=1.0) == pytest.approx(2 * 90 * 30 / 120)
    assert hrs(90.0, 30.0, beta=1.0) > hrs(90.0, 30.0, beta=3.0) > 30.0
    assert hrs(90.0, 30.0, beta=1e-3) == pytest.approx(90.0, rel=1e-3)
    assert hrs(0.0, 0.0) == 0.0
    assert hrs(50.0, 0.0) == 0.0


def test_pp_hrs_of_baseline_is_its_hrs():
    assert pp_hrs(38.53, 11.2e6, 11.2e6) == 38.53
    assert math.isclose(pp_hrs(20.0, 2.0, 1.0), 10.0)


@pytest.mark.parametrize("clean,adv,beta", [(-1, 5, 1), (50, 101, 1), (50, 20, 0), (float("nan"), 1, 1)])
def test_hrs_rejects_bad_input(clean, adv, beta):
    with pytest.raises(InvalidValueError):
        hrs(clean, adv, beta)


def test_pp_hrs_rejects_nonpositive_params():
    with pytest.raises(InvalidValueError):
        pp_hrs(10.0, 0, 5)


def test_nb201_convention_matches_the_published_figures():
    # NAS-Bench-201 reports 1.531546 M parameters and 220.11969 MFLOPs (MACs) for the all-3x3 cell on CIFAR-10.
    from robnas.metrics import nb201_cost
    from robnas.models import create_model

    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    params, flops = nb201_cost(create_model("nb201", arch=arch, num_classes=10, in_channels=3), (3, 32, 32))
    assert round(params, 6) == 1.531546 and round(flops, 5) == 220.11969
