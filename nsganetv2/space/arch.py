"""``Arch``: one OFA MobileNetV3 architecture as a value, the one normaliser of every config layout we read.

An architecture is the kernel size and expand ratio of each active layer (``ks``, ``e``: ``sum(d)`` entries), the
depth of each stage (``d``), the input resolution (``r``, optional) and the width multiplier (``width``). Layouts
read: unpadded lists, OFA's padded lists (``n_stages * max_depth`` entries, ``None`` for inactive layers), one
scalar for every layer (OFA's ``set_active_subnet``), lists written as strings (``'[5 5 7]'``), the resolution as
``r`` / ``resolution`` / ``img_size`` / ``image_size`` (or OFA's one-element list ``"r": [224]``), and the width as
``w`` / ``width`` / ``width_mult`` (NAT's ``net.subnet`` files carry ``"w": 1.2``).

Also the one home of the default resolution lists and of the ``"192-256:4"`` resolution syntax.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Arch", "DEFAULT_RESOLUTIONS", "SMALL_DATASET_RESOLUTIONS", "default_resolutions", "parse_int_list",
           "parse_resolutions"]

DEFAULT_RESOLUTIONS = tuple(range(192, 257, 4))  # the original's ImageNet / CIFAR search range
SMALL_DATASET_RESOLUTIONS = {"mnist5k": (32, 36, 40)}  # bundled datasets with small images

R_KEYS = ("r", "resolution", "img_size", "image_size")
W_KEYS = ("w", "width", "width_mult")


def default_resolutions(dataset: str | None = None) -> list[int]:
    """The resolutions searched when none are given: the dataset's small list, else 192..256 step 4."""
    return list(SMALL_DATASET_RESOLUTIONS.get(str(dataset), DEFAULT_RESOLUTIONS))


def parse_resolutions(text: str) -> list[int]:
    """``"192-256:4"`` (start-stop:step, inclusive) or ``"32,40,48"`` -> a list of ints (each at least 8)."""
    try:
        if "-" in text:
            span, _, step = text.partition(":")
            lo, hi = (int(v) for v in span.split("-"))
            values = list(range(lo, hi + 1, int(step or 4)))
        else:
            values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"bad resolution list {text!r}; write 192-256:4 or 32,40,48") from None
    if not values or min(values) < 8:
        raise ValueError(f"resolution list {text!r} is empty or has values below 8")
    return values


def parse_int_list(value: Any, name: str, allow_scalar: bool = False) -> list:
    """A config field as a list of ints (``None`` kept); accepts '[5 5 7]' strings; a scalar only if allowed."""
    if isinstance(value, str):  # the original sometimes wrote numpy arrays as '[5 5 7 ...]'
        text = value.strip().strip("[]").replace(",", " ")
        try:
            return [int(v) for v in text.split()]
        except ValueError:
            raise ValueError(f"config field {name!r}: cannot parse {value!r} as a list of ints") from None
    if _is_int(value):
        if allow_scalar:
            return [int(value)]
        raise ValueError(f"config field {name!r} must be a list, got the scalar {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise ValueError(f"config field {name!r} must be a list of ints, got {value!r}") from None
    out = []
    for v in items:
        if v is None:
            out.append(None)
        elif isinstance(v, bool) or type(v).__name__ == "bool_" or not _is_number(v) or not float(v).is_integer():
            raise ValueError(f"config field {name!r} must hold ints, got {v!r}")
        else:
            out.append(int(v))
    return out


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, str)


def _is_int(v: Any) -> bool:
    return hasattr(v, "__index__") and not isinstance(v, bool) and type(v).__name__ != "bool_"


def _first(config: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for k in keys:
        if k in config and config[k] is not None:
            return config[k]
    return None


@dataclass(frozen=True)
class Arch:
    """A frozen, hashable architecture: ``ks``, ``e`` (active layers), ``d`` (per stage), ``r`` and ``width``."""

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int | None = None
    width: float = 1.0

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Arch, *, resolution: int | None = None,
                    width: float | None = None, n_stages: int = 5, max_depth: int = 4) -> Arch:
        """The architecture of a config dict in any layout we read (see the module docs).

        ``resolution`` / ``width`` override the config's own; a ``ValueError`` names the field that is wrong.
        """
        if isinstance(config, Arch):
            arch = config
            explicit_w = arch.width != 1.0
        else:
            if not isinstance(config, Mapping):
                raise ValueError(f"an architecture is a dict with keys ks, e, d (and r), got {type(config).__name__}")
            for field in ("ks", "e", "d"):
                if field not in config:
                    raise ValueError(f"config is missing the field {field!r}")
            d = parse_int_list(config["d"], "d", allow_scalar=True)
            if len(d) == 1 and _is_int(config["d"]):
                d = d * n_stages
            if len(d) != n_stages or any(v is None for v in d):
                raise ValueError(f"config field 'd' must hold {n_stages} ints, got {config['d']!r}")
            if any(not 1 <= v <= max_depth for v in d):
                raise ValueError(f"config field 'd' has a depth outside 1..{max_depth}: {d}")
            n_active = sum(d)
            lists = []
            for name in ("ks", "e"):
                raw = config[name]
                vals = parse_int_list(raw, name, allow_scalar=True)
                if len(vals) == 1 and _is_int(raw):  # one value for every layer
                    vals = vals * n_active
                if len(vals) == n_active:
                    active = vals
                elif len(vals) == n_stages * max_depth:
                    active = [vals[s * max_depth + j] for s in range(n_stages) for j in range(d[s])]
                else:
                    raise ValueError(f"config field {name!r} must have sum(d) = {n_active} entries "
                                     f"(or {n_stages * max_depth} padded), got {len(vals)}")
                if any(v is None for v in active):
                    raise ValueError(f"config field {name!r} has None for an active layer")
                lists.append(tuple(active))
            r = _first(config, R_KEYS)
            if isinstance(r, (list, tuple)) and len(r) == 1:  # OFA's spec dicts hold the resolution as [224]
                r = r[0]
            w = _first(config, W_KEYS)
            explicit_w = w is not None
            arch = cls(lists[0], lists[1], tuple(d), _check_r(r), _check_w(w) if w is not None else 1.0)
        if resolution is not None:
            arch = replace(arch, r=_check_r(resolution))
        if width is not None:
            w = _check_w(width)
            if explicit_w and arch.width != w:
                raise ValueError(f"the architecture says width {arch.width} but width {w} was asked for; drop one")
            arch = replace(arch, width=w)
        return arch

    @classmethod
    def from_json(cls, text: str, **overrides: Any) -> Arch:
        """The architecture of a JSON text; ``overrides`` (``resolution``, ``width``) as in :meth:`from_config`."""
        try:
            return cls.from_config(json.loads(text), **overrides)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc}); expected {{\"ks\", \"e\", \"d\", \"r\"}}") from None

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any) -> Arch:
        """Read a ``net.subnet`` file (or any JSON config layout we read); errors name the file. ``overrides``
        (``resolution``, ``width``) as in :meth:`from_config`: a ``width`` that contradicts the file's ``w`` is an
        error."""
        try:
            with open(path) as f:
                return cls.from_json(f.read(), **overrides)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    # ------------------------------------------------------------------ writing
    def to_config(self, padded: bool = False, max_depth: int = 4) -> dict[str, Any]:
        """``{"ks", "e", "d", "r"}`` (``r`` only when set, ``w`` only when not 1.0); ``padded`` gives OFA's form."""
        ks, e = list(self.ks), list(self.e)
        if padded:
            ks, e, pos = [], [], 0
            for d in self.d:
                ks += list(self.ks[pos:pos + d]) + [None] * (max_depth - d)
                e += list(self.e[pos:pos + d]) + [None] * (max_depth - d)
                pos += d
        out: dict[str, Any] = {"ks": ks, "e": e, "d": list(self.d)}
        if self.r is not None:
            out["r"] = self.r
        if self.width != 1.0:
            out["w"] = self.width
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_config())

    def save(self, path: str | os.PathLike) -> None:
        """Write ``net.subnet`` (atomically)."""
        from nsganetv2.atomic import write_json_atomic

        write_json_atomic(path, self.to_config(), fsync=False)

    # ------------------------------------------------------------------ identity
    @property
    def key(self) -> str:
        """The identity of the architecture: compact sorted JSON of ``d``, ``e``, ``ks``, ``r`` (and ``w`` when not
        1.0). The same text whichever layout the architecture was read from."""
        return json.dumps(self.to_config(), sort_keys=True, separators=(",", ":"))

    @property
    def n_active(self) -> int:
        return sum(self.d)

    def with_resolution(self, r: int | None) -> Arch:
        return replace(self, r=None if r is None else _check_r(r))


def _check_r(r: Any) -> int | None:
    if r is None:
        return None
    if isinstance(r, bool) or not _is_number(r) or not float(r).is_integer() or int(r) < 1:
        raise ValueError(f"config field 'r' = {r!r} is not a resolution (a positive integer)")
    return int(r)


def _check_w(w: Any) -> float:
    if isinstance(w, bool) or not _is_number(w) or not float(w) > 0:
        raise ValueError(f"config field 'w' = {w!r} is not a width multiplier (a positive number, e.g. 1.0 or 1.2)")
    return float(w)
