"""nsganetv2: hardware-aware multi-objective neural architecture search (NSGANetV2 / MSuNAS)."""

__version__ = "0.1.0"
