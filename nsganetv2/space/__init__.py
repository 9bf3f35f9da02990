"""Search spaces: the ``Arch`` value type, the OFA MobileNetV3 space and its 46-integer genome."""

from .arch import DEFAULT_RESOLUTIONS, Arch, default_resolutions, parse_resolutions
from .ofa_mbv3 import OFAMobileNetV3Space

__all__ = ["Arch", "OFAMobileNetV3Space", "DEFAULT_RESOLUTIONS", "default_resolutions", "parse_resolutions"]
