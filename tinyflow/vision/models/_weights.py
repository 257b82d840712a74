"""The `weights=` / `pretrained=` arguments of torchvision's builders: tinyflow downloads
nothing, so only `weights=None` builds; trained weights load from a state dict file."""
from __future__ import annotations

import enum


def no_weights(builder: str, weights=None, kwargs: dict | None = None) -> None:
    """Refuse trained weights by name (and torchvision's old `pretrained=True`), saying how to
    load them instead; `pretrained=False` is accepted and dropped from `kwargs`."""
    pretrained = (kwargs or {}).pop("pretrained", False)
    if weights is None and not pretrained:
        return
    shown = str(weights) if isinstance(weights, enum.Enum) else repr(weights)
    asked = f"weights={shown}" if weights is not None else "pretrained=True"
    raise ValueError(f"{builder}: {asked} needs a download, which tinyflow does not do; build "
                     f"with weights=None and load a saved state dict: "
                     f"model.load_state_dict(torch.load(path))")


def _weights_enum(name: str, *members: str) -> type:
    """torchvision's `<Model>_Weights` enum: the names exist (so `weights=VGG16_Weights.DEFAULT`
    reaches the builder, which refuses it with the reason); DEFAULT is the last member."""
    return enum.Enum(name, [(m, m) for m in members] + [("DEFAULT", members[-1])],
                     module=__name__)


_V1, _V2 = "IMAGENET1K_V1", "IMAGENET1K_V2"
AlexNet_Weights = _weights_enum("AlexNet_Weights", _V1)
MobileNet_V2_Weights = _weights_enum("MobileNet_V2_Weights", _V1, _V2)
ResNet18_Weights = _weights_enum("ResNet18_Weights", _V1)
ResNet34_Weights = _weights_enum("ResNet34_Weights", _V1)
ResNet50_Weights = _weights_enum("ResNet50_Weights", _V1, _V2)
ResNet101_Weights = _weights_enum("ResNet101_Weights", _V1, _V2)
ResNet152_Weights = _weights_enum("ResNet152_Weights", _V1, _V2)
SqueezeNet1_0_Weights = _weights_enum("SqueezeNet1_0_Weights", _V1)
SqueezeNet1_1_Weights = _weights_enum("SqueezeNet1_1_Weights", _V1)
VGG11_Weights = _weights_enum("VGG11_Weights", _V1)
VGG11_BN_Weights = _weights_enum("VGG11_BN_Weights", _V1)
VGG13_Weights = _weights_enum("VGG13_Weights", _V1)
VGG13_BN_Weights = _weights_enum("VGG13_BN_Weights", _V1)
VGG16_Weights = _weights_enum("VGG16_Weights", "IMAGENET1K_FEATURES", _V1)
VGG16_BN_Weights = _weights_enum("VGG16_BN_Weights", _V1)
VGG19_Weights = _weights_enum("VGG19_Weights", _V1)
VGG19_BN_Weights = _weights_enum("VGG19_BN_Weights", _V1)
__all__ = ["AlexNet_Weights", "MobileNet_V2_Weights", "ResNet18_Weights", "ResNet34_Weights",
           "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
           "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights", "VGG11_Weights", "VGG11_BN_Weights",
           "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights", "VGG16_BN_Weights",
           "VGG19_Weights", "VGG19_BN_Weights"]
