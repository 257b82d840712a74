"""torchvision's `models` for image classification, built from tinyflow.nn with torchvision's
module names, parameter shapes and initialization, so `from torchvision import models`
becomes `from tinyflow.vision import models` and a state dict saved from torchvision
loads. Only `weights=None`: nothing is downloaded."""
from ._weights import *  # noqa: F401,F403  (the <Model>_Weights enums)
from ._weights import __all__ as _WEIGHTS
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
from .vgg import (VGG, AlexNet, alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn,
                  vgg19, vgg19_bn)

__all__ = ["AlexNet", "MobileNetV2", "ResNet", "SqueezeNet", "VGG", "alexnet", "mobilenet_v2",
           "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "squeezenet1_0",
           "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn"] + _WEIGHTS
