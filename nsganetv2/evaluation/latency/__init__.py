"""CPU latency: ONNX Runtime (or torch) timing of subnets, and look-up tables built on this machine."""

from .build import build_layer, build_lut, calibrate_lut, count_lut_keys, lut_specs, measure_layer, space_lists
from .meter import LatencyMeter, cpu_latency_fn
from .measure import LatencyStats, export_onnx, make_session, measure_onnx, measure_torch, torch_threads
from .ofa_table import OFALatencyTable, load_latency_table
from .table import (LatencyTable, LayerSpec, MissingLatencyKeyError, keys_for, keys_for_net, layer_specs, make_key,
                    table_format)

__all__ = [
    "LatencyStats",
    "export_onnx",
    "make_session",
    "measure_onnx",
    "measure_torch",
    "torch_threads",
    "LatencyMeter",
    "cpu_latency_fn",
    "LatencyTable",
    "OFALatencyTable",
    "load_latency_table",
    "table_format",
    "LayerSpec",
    "MissingLatencyKeyError",
    "make_key",
    "layer_specs",
    "keys_for",
    "keys_for_net",
    "lut_specs",
    "count_lut_keys",
    "build_layer",
    "measure_layer",
    "build_lut",
    "calibrate_lut",
    "space_lists",
]
