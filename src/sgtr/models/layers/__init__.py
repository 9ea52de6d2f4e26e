"""Small reusable blocks that every recognizer is built from; they know nothing about models, charsets or losses.

``conv``: conv + BatchNorm + ReLU.  ``resnet``: residual blocks (basic, bottleneck) and a configurable ResNet backbone.
``ppm``: pyramid pooling for global context.  ``fpn``: top-down merge of backbone levels into one map.
``unet``: a small convolutional encoder-decoder.  ``position_attention``: T query-per-step attention maps over pixels.
``pixel_gate``: the segmentation head's light per-pixel gate.
``positional``: sinusoidal 1-D / 2-D encodings.  ``channel_softmax``: class-axis softmax that exports fast.
"""

from sgtr.models.layers.channel_softmax import channel_softmax
from sgtr.models.layers.conv import ConvBNAct
from sgtr.models.layers.fpn import FPN
from sgtr.models.layers.pixel_gate import PixelGate
from sgtr.models.layers.position_attention import PositionAttention
from sgtr.models.layers.positional import sinusoid, sinusoid_2d, sinusoid_grid
from sgtr.models.layers.ppm import PyramidPooling
from sgtr.models.layers.resnet import BasicBlock, Bottleneck, ResNet
from sgtr.models.layers.unet import UNet

__all__ = ["BasicBlock", "Bottleneck", "ConvBNAct", "FPN", "PixelGate", "PositionAttention", "PyramidPooling", "ResNet",
           "UNet", "sinusoid", "channel_softmax", "sinusoid_2d", "sinusoid_grid"]
