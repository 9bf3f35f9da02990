"""Latency look-up tables in the original NSGANetV2 YAML key format, and the per-layer keys of a subnet.

A table maps keys such as ``MBConv-input:56x56x24-output:28x28x40-expand:4-kernel:5-stride:2-idskip:0-se:1``,
``first_conv-input:224x224x3-output:112x112x16``, ``final_expand_layer-input:7x7x160-output:7x7x960``,
``feature_mix_layer-input:1x1x960-output:1x1x1280`` and ``classifier-input:1280-output:1000`` to
``{mean: ms, var: ms^2}``. The latency of a subnet is the sum of its layers' means, as the original predicts it, so the
published i7-8700K table reads and predicts exactly as in the original.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import yaml

from ...atomic import atomic_write
from ...supernet.shapes import middle_channels
from ...space.arch import Arch
from ...supernet.ofa_mbv3 import ACT_STAGES, SE_STAGES, STRIDE_STAGES, stage_widths

__all__ = [
    "LayerSpec",
    "LatencyTable",
    "MissingLatencyKeyError",
    "table_format",
    "make_key",
    "layer_specs",
    "keys_for",
    "keys_for_net",
]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SCALE = "calibration_scale:"


OURS_PREFIXES = ("first_conv-", "MBConv-", "final_expand_layer-", "feature_mix_layer-", "classifier-")
OFA_PREFIXES = ("Conv-", "expanded_conv-", "Conv_1-", "Conv_2-", "AvgPool2D-", "Logits-")
_STEM = re.compile(r"^Conv-input:(\d+)x(\d+)x3-output:\d+x\d+x(\d+)$")


def table_format(keys: Iterable[str]) -> Optional[str]:
    """``"nsganetv2"`` (the original's keys), ``"ofa"`` (OFA's, ``ofa_table.py``), or ``None`` for anything else."""
    keys = [str(k) for k in keys]
    if any(k.startswith("expanded_conv-") for k in keys) or any(_STEM.match(k) for k in keys):
        return "ofa"
    if any(k.startswith(OURS_PREFIXES) for k in keys):
        return "nsganetv2"
    return None


class MissingLatencyKeyError(KeyError, ValueError):
    """A layer of the network has no entry in the latency table."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _half(x: int, times: int = 1) -> int:
    for _ in range(times):
        x = math.ceil(x / 2)
    return int(x)


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def make_key(ltype: str, input_shape: Sequence[int], output_shape: Sequence[int], expand: Optional[float] = None,
             kernel: Optional[int] = None, stride: Optional[int] = None, idskip: Optional[int] = None,
             se: Optional[int] = None) -> str:
    """The original's key: ``ltype-input:HxWxC-output:HxWxC[-expand:e-kernel:k-stride:s-idskip:i-se:s]``."""
    infos = [ltype, f"input:{_shape(input_shape)}", f"output:{_shape(output_shape)}"]
    if ltype == "MBConv":
        if None in (expand, kernel, stride, idskip, se):
            raise ValueError("an MBConv key needs expand, kernel, stride, idskip and se")
        infos += [f"expand:{int(expand)}", f"kernel:{int(kernel)}", f"stride:{int(stride)}",
                  f"idskip:{int(idskip)}", f"se:{int(se)}"]
    return "-".join(infos)


@dataclass(frozen=True)
class LayerSpec:
    """One table entry's layer: enough to name it (``key``) and to build and time it (see ``build``)."""

    ltype: str                      # MBConv | first_conv | final_expand_layer | feature_mix_layer | classifier
    input: tuple[int, ...]          # (H, W, C), or (C,) for the classifier
    output: tuple[int, ...]
    expand: Optional[float] = None
    kernel: Optional[int] = None
    stride: Optional[int] = None
    idskip: Optional[int] = None
    se: Optional[int] = None
    act: Optional[str] = None
    mid: Optional[int] = None       # MBConv middle width

    @cached_property
    def key(self) -> str:
        return make_key(self.ltype, self.input, self.output, self.expand, self.kernel, self.stride,
                        self.idskip, self.se)


@lru_cache(maxsize=4096)
def _fixed_specs(resolution: int, widths: tuple[int, ...], last_in: int, n_classes: int) -> tuple[LayerSpec, ...]:
    r = int(resolution)
    s = _half(r, 5)
    return (
        LayerSpec("first_conv", (r, r, 3), (r // 2, r // 2, widths[0]), kernel=3, stride=2, act="h_swish"),
        LayerSpec("final_expand_layer", (s, s, last_in), (s, s, widths[7]), kernel=1, stride=1, act="h_swish"),
        LayerSpec("feature_mix_layer", (1, 1, widths[7]), (1, 1, widths[8]), kernel=1, stride=1, act="h_swish"),
        LayerSpec("classifier", (widths[8],), (int(n_classes),)),
    )


@lru_cache(maxsize=64)
def _widths(width_mult: float) -> tuple[int, ...]:
    return tuple(stage_widths(width_mult))


@lru_cache(maxsize=65536)
def _mbconv(fsize: int, cin: int, cout: int, e: float, k: int, stride: int, idskip: bool, se: bool,
            act: str) -> LayerSpec:
    out_f = _half(fsize) if stride > 1 else fsize
    return LayerSpec("MBConv", (fsize, fsize, cin), (out_f, out_f, cout), expand=e, kernel=k, stride=stride,
                     idskip=int(idskip), se=int(se), act=act, mid=middle_channels(cin, e) if e != 1 else cin)


def layer_specs(config: Mapping[str, Any], width_mult: Optional[float] = None, n_classes: int = 1000,
                resolution: Optional[int] = None) -> list[LayerSpec]:
    """Layers of the OFA MobileNetV3 subnet ``config`` (``{ks, e, d, r}``) in table order.

    The width is the config's own (``"w"`` in NAT's ``net.subnet``, 1.0 when absent) unless ``width_mult`` is
    given; a ``width_mult`` that contradicts the config's ``w`` is a ``ValueError``.
    Order: first_conv, final_expand_layer, feature_mix_layer, classifier, then the blocks (first block first),
    as in the original ``look_up_latency``.
    """
    arch = Arch.from_config(config, resolution=resolution, width=width_mult)
    ks, e, d, r = arch.ks, arch.e, arch.d, arch.r
    if r is None:
        raise ValueError("config has no resolution 'r': pass resolution=")
    widths = _widths(float(arch.width))
    specs = list(_fixed_specs(r, widths, widths[6], int(n_classes)))
    fsize = _half(r)
    stem, cin = widths[0], widths[1]
    specs.append(_mbconv(fsize, stem, cin, 1, 3, STRIDE_STAGES[0], bool(stem == cin), SE_STAGES[0], ACT_STAGES[0]))
    fsize = _half(fsize) if STRIDE_STAGES[0] > 1 else fsize
    pos = 0
    for stage, depth in enumerate(d):
        cout = widths[2 + stage]
        for j in range(depth):
            stride = STRIDE_STAGES[1 + stage] if j == 0 else 1
            spec = _mbconv(fsize, cin, cout, e[pos], ks[pos], stride, bool(stride == 1 and cin == cout),
                           SE_STAGES[1 + stage], ACT_STAGES[1 + stage])
            specs.append(spec)
            fsize, cin = spec.output[0], cout
            pos += 1
    return specs


def keys_for(config: Mapping[str, Any], width_mult: Optional[float] = None, n_classes: int = 1000,
             resolution: Optional[int] = None) -> list[str]:
    """Table keys whose sum is the latency of subnet ``config`` (``r`` and ``w`` from the config unless given)."""
    return [s.key for s in layer_specs(config, width_mult, n_classes, resolution)]


def keys_for_net(net: Any, resolution: Optional[int] = None) -> list[str]:
    """Table keys of a built network or its OFA ``net.config`` dict (both ``conv`` and ``mobile_inverted_conv``)."""
    cfg = net.config if hasattr(net, "config") and not isinstance(net, Mapping) else net
    if not isinstance(cfg, Mapping) or "blocks" not in cfg:
        raise ValueError("keys_for_net needs a MobileNetV3 module or an OFA MobileNetV3 net.config dict")
    r = resolution if resolution is not None else cfg.get("resolution", cfg.get("img_size"))
    if r is None:
        raise ValueError("the net config has no 'resolution': pass resolution=")
    r = int(r)
    s = _half(r, 5)
    fe, fm, cl = cfg["final_expand_layer"], cfg["feature_mix_layer"], cfg["classifier"]
    keys = [
        make_key("first_conv", (r, r, 3), (r // 2, r // 2, cfg["first_conv"]["out_channels"])),
        make_key("final_expand_layer", (s, s, fe["in_channels"]), (s, s, fe["out_channels"])),
        make_key("feature_mix_layer", (1, 1, fm["in_channels"]), (1, 1, fm["out_channels"])),
        make_key("classifier", (cl["in_features"],), (cl["out_features"],)),
    ]
    fsize = _half(r)
    for block in cfg["blocks"]:
        conv = block.get("conv") or block.get("mobile_inverted_conv")
        stride = int(conv["stride"])
        out_f = _half(fsize) if stride > 1 else fsize
        keys.append(make_key("MBConv", (fsize, fsize, conv["in_channels"]), (out_f, out_f, conv["out_channels"]),
                             conv["expand_ratio"], conv["kernel_size"], stride,
                             0 if block.get("shortcut") is None else 1, 1 if conv.get("use_se") else 0))
        fsize = out_f
    return keys


class LatencyTable:
    """A latency look-up table: key -> ``{"mean": ms, "var": ms^2, ...}`` (extra fields such as count are kept).

    ``width_mult`` and ``n_classes`` are the defaults for :meth:`keys_for` / :meth:`predict`; a table may hold
    entries for several widths (the published one holds w1.0 and w1.2). ``scale`` (default 1) multiplies every
    prediction: :func:`build_lut` sets it by timing a few whole subnets, so that the sum of layers timed alone
    matches whole networks (whose layers run with colder caches). It is stored as the YAML comment line
    ``# calibration_scale: <x>``, so the entries stay raw and other readers of the format ignore it.
    """

    def __init__(self, entries: Optional[Mapping[str, Mapping[str, Any]]] = None, *, width_mult: float = 1.0,
                 n_classes: int = 1000, header: str = "", scale: float = 1.0) -> None:
        self.width_mult = float(width_mult)
        self.n_classes = int(n_classes)
        self.header = header
        self.scale = float(scale)
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"latency table scale must be a positive number, got {scale!r}")
        self.entries: dict[str, dict[str, Any]] = {}
        for key, value in (entries or {}).items():
            self.entries[str(key)] = self._check_entry(key, value)

    @staticmethod
    def _check_entry(key: str, value: Any) -> dict:
        if not isinstance(value, Mapping) or "mean" not in value:
            raise ValueError(f"latency table entry {key!r} must be a map with a 'mean' field, got {value!r}")
        out = dict(value)
        try:
            out["mean"] = float(out["mean"])
            out["var"] = float(out.get("var", 0.0))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"latency table entry {key!r} has a non-numeric mean/var: {value!r}") from exc
        if not math.isfinite(out["mean"]) or out["mean"] < 0:
            raise ValueError(f"latency table entry {key!r} has mean {out['mean']}: a latency is a finite number of "
                             "ms >= 0; measure this entry again (delete it and re-run build_lut)")
        if not math.isfinite(out["var"]) or out["var"] < 0:
            raise ValueError(f"latency table entry {key!r} has variance {out['var']}: a variance is a finite number "
                             ">= 0; measure this entry again (delete it and re-run build_lut)")
        return out

    # ---- io ----------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Union[str, os.PathLike], **kwargs: Any) -> "LatencyTable":
        """Read a YAML table (ours, the published ``i7-8700K_lut.yaml``, or OFA-style entries with ``count``)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"latency table {path!r} does not exist: build one with build_lut "
                             f"(nsganetv2 latency build-lut)")
        with open(path) as f:
            text = f.read()
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({exc})") from exc
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: a latency table must be a YAML map of key -> {{mean, var}}")
        fmt = table_format(data) if data else "nsganetv2"
        if fmt == "ofa":
            raise ValueError(f"{path} is an OFA latency table (one resolution per file): read it with "
                             "load_latency_table (the CLI's --lut does)")
        if fmt is None:
            raise ValueError(f"{path}: a latency table in a format this version cannot read (keys like "
                             f"{next(iter(data))!r}); readable: the original NSGANetV2's ('first_conv-...', "
                             "'MBConv-...') and OFA's ('Conv-...', 'expanded_conv-...', one file per resolution)")
        header = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            line = line[1:].strip()
            if line.startswith(_SCALE):
                try:
                    kwargs.setdefault("scale", float(line[len(_SCALE):]))
                except ValueError as exc:
                    raise ValueError(f"{path}: bad calibration line {line!r}") from exc
            else:
                header.append(line)
        kwargs.setdefault("header", "\n".join(header))
        try:
            return cls(data, **kwargs)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def save(self, path: Union[str, os.PathLike]) -> str:
        """Write the table atomically (temp file + ``os.replace``) in the original YAML layout."""
        text = yaml.dump(self.entries, Dumper=_Dumper, default_flow_style=False, sort_keys=False)
        lines = self.header.splitlines() + ([f"{_SCALE} {self.scale!r}"] if self.scale != 1.0 else [])
        text = "".join(f"# {line}\n" for line in lines) + text
        path = os.fspath(atomic_write(path, text))
        return path

    # ---- mapping -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __getitem__(self, key: str) -> dict:
        return self.entries[key]

    def add(self, key: str, mean: float, var: float = 0.0, **extra: Any) -> None:
        """Set entry ``key``; a negative or non-finite mean or variance is a ``ValueError`` naming the key."""
        self.entries[key] = self._check_entry(key, {"mean": mean, "var": var, **extra})

    def __setitem__(self, key: str, value: Mapping[str, Any]) -> None:
        self.entries[str(key)] = self._check_entry(key, value)

    def mean(self, key: str) -> float:
        try:
            return self.entries[key]["mean"]
        except KeyError:
            raise MissingLatencyKeyError(
                f"latency table has no entry {key!r}: build a table covering this space, width, resolution "
                f"and class count with build_lut (nsganetv2 latency build-lut)") from None

    def missing(self, keys: Iterable[str]) -> list[str]:
        return [k for k in keys if k not in self.entries]

    # ---- prediction --------------------------------------------------------------------------------------------
    def keys_for(self, config: Mapping[str, Any], width_mult: Optional[float] = None,
                 n_classes: Optional[int] = None, resolution: Optional[int] = None) -> list[str]:
        """Keys of ``config``; its width is ``width_mult``, else the config's own ``w``, else the table's."""
        if width_mult is None and Arch.from_config(config).width == 1.0:
            width_mult = self.width_mult
        return keys_for(config, width_mult, self.n_classes if n_classes is None else n_classes, resolution)

    def predict(self, config: Mapping[str, Any], width_mult: Optional[float] = None,
                n_classes: Optional[int] = None, resolution: Optional[int] = None) -> float:
        """Latency (ms) of subnet ``config``: the sum of its layers' table means (times ``scale``)."""
        keys = self.keys_for(config, width_mult, n_classes, resolution)
        missing = self.missing(keys)
        if missing:
            arch = Arch.from_config(config, resolution=resolution)
            w = width_mult or (arch.width if arch.width != 1.0 else self.width_mult)
            raise MissingLatencyKeyError(
                f"latency table has no entry {missing[0]!r} ({len(missing)} of the architecture's {len(keys)} layers "
                f"missing at width {w}, resolution {arch.r}, {n_classes or self.n_classes} classes): build a table "
                f"covering them with build_lut (nsganetv2 latency build-lut)")
        return self.scale * float(sum(self.mean(k) for k in keys))

    def predict_net(self, net: Any, resolution: Optional[int] = None) -> float:
        """Latency (ms) of a built MobileNetV3 (or its ``net.config`` dict), as the original ``look_up_latency``."""
        return self.scale * float(sum(self.mean(k) for k in keys_for_net(net, resolution)))
