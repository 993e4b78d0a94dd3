"""LeNet-5 (LeCun et al. 1998), one of RoCo-NAS' source networks for its pre-generated adversarial set.

Two 5x5 convolutions (6 and 16 channels) with ReLU and 2x2 max pooling, then 120 -> 84 -> classes
fully connected layers: the form modern CIFAR code uses (ReLU and max pooling instead of the
original's scaled tanh and subsampling). On 28x28 grey inputs the first convolution pads by 2, as
LeNet-5 read 32x32 digits; on 32x32 RGB inputs it does not. Both give 16x5x5 features: 61,706
parameters for MNIST-sized inputs and 62,006 for CIFAR-10. An adaptive average pool to 5x5 in front
of the classifier lets other input sizes through (on 8x8 digits pass ``padding=2``, which pads both
convolutions); on 28x28 and 32x32 inputs it is the identity.
"""

from __future__ import annotations

import torch
from torch import nn

from robnas.errors import InvalidValueError
from robnas.models.registry import register_model


class LeNet5(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, padding: int | None) -> None:
        super().__init__()
        first = (2 if in_channels == 1 else 0) if padding is None else padding
        second = 0 if padding is None else padding
        # The smallest input both 5x5 convolutions (and the 2x2 pools between them) fit in.
        # conv1 -> s + 2 p1 - 4 (>= 1), ceil-pool -> half of it, conv2 needs >= 5 - 2 p2 of that.
        self.min_size = max(2 * (5 - 2 * second) + 3 - 2 * first, 5 - 2 * first, 1)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=first), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(6, 16, 5, padding=second), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(5),
        )
        self.classifier = nn.Sequential(nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True), nn.Linear(120, 84),
                                        nn.ReLU(inplace=True), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_size:
            raise InvalidValueError(f"model 'lenet' needs inputs of at least {self.min_size}x{self.min_size} pixels with "
                                    f"this padding, got {tuple(x.shape[-2:])}; build it with padding=2 (--kw padding=2) "
                                    "for 8x8 digits")
        return self.classifier(self.features(x).flatten(1))


@register_model(tiny=dict(padding=2))
def lenet(num_classes: int, in_channels: int, padding: int | None = None) -> nn.Module:
    """LeNet-5; ``padding`` (default: 2 for grey inputs, 0 for RGB on the first convolution) pads both convolutions."""
    if padding is not None and (isinstance(padding, bool) or not isinstance(padding, int) or padding < 0):
        raise InvalidValueError(f"model 'lenet': padding must be an integer >= 0, got {padding!r}")
    return LeNet5(num_classes, in_channels, padding)
