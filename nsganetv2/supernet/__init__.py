"""OFA MobileNetV3 supernet: dynamic layers, static subnets, checkpoints."""

from .checkpoint import infer_width_mult, load_supernet, read_state_dict, save_supernet
from .mobilenet_v3 import MobileNetV3, load_net_config, save_net_config
from .ofa_mbv3 import OFAMobileNetV3Supernet, stage_widths

__all__ = [
    "OFAMobileNetV3Supernet",
    "MobileNetV3",
    "load_supernet",
    "save_supernet",
    "read_state_dict",
    "infer_width_mult",
    "load_net_config",
    "save_net_config",
    "stage_widths",
]
