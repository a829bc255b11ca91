"""Generators and discriminators: plain nn.Modules that take plain arguments (sizes, widths, flags).
Which nets a config asks for is decided by the recipes' net builder (`recipes/nets.py`)."""

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .encoder import Encoder
from .init import dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
from .remedies import ConditionalGenerator, Critic, flatten_features
from .stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from .srresnet import SRDiscriminator, SRResNet, downsample
from .ssgan import ConvSSGANDiscriminator, SSGANDiscriminator, SSGANGenerator
from .text import ImageEncoder, TextDiscriminator, TextEncoder, TextGenerator
from .translation import ClassReader, PatchDiscriminator, ResnetGenerator, UNetGenerator, receptive_field

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "Encoder", "dcgan_init", "MLPDiscriminator", "MLPGenerator",
           "ConditionalGenerator", "Critic", "flatten_features", "SRDiscriminator", "SRResNet", "downsample",
           "ImageEncoder", "TextDiscriminator", "TextEncoder", "TextGenerator",
           "ClassReader", "PatchDiscriminator", "ResnetGenerator", "UNetGenerator", "receptive_field",
           "StyleGAN2Discriminator", "StyleGAN2Generator",
           "ConvSSGANDiscriminator", "SSGANDiscriminator", "SSGANGenerator"]
