"""Search spaces: the OFA MobileNetV3 space and its 46-integer genome."""

from .ofa_mbv3 import DEFAULT_RESOLUTIONS, OFAMobileNetV3Space

__all__ = ["OFAMobileNetV3Space", "DEFAULT_RESOLUTIONS"]
