"""Once-for-All's latency look-up tables (e.g. its Samsung Note10 tables), and reading a table of either format.

OFA writes one YAML file per resolution (``{r}_lookup_table.yaml``) with keys ``Conv-input:HxWx3-output:...``,
``expanded_conv-input:...-output:...-expand:<middle channels>-kernel:k-stride:s-idskip:i-se:s-hs:h``,
``Conv_1``, ``AvgPool2D``, ``Conv_2`` and ``Logits``, and entries ``{count, mean, std}``. The latency of a subnet
is the sum of its layers' means in the file of its resolution, as ``ofa.tutorial.LatencyTable`` predicts it
(``predict_efficiency``); here for any width the table covers (OFA's published tables are for w1.2).

:func:`load_latency_table` reads a table of either format (the original NSGANetV2's, see ``table.py``, or OFA's:
a file or a folder of files), recognised by its keys, and names a foreign format it cannot read.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml

from ...space.arch import Arch
from .table import _STEM, LatencyTable, MissingLatencyKeyError, _Loader, layer_specs, table_format

__all__ = ["OFALatencyTable", "load_latency_table", "table_format"]

def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


class OFALatencyTable:
    """OFA's per-resolution latency tables: ``{resolution: {key: {"mean": ms, ...}}}``.

    ``width_mult`` is the width of configs that do not say theirs (default: the one the tables' stem width
    shows, 1.2 for OFA's Note10 tables); ``n_classes`` the classifier's outputs (1000).
    """

    format = "ofa"

    def __init__(self, tables: Mapping[int, Mapping[str, Mapping[str, Any]]], *, width_mult: Optional[float] = None,
                 n_classes: int = 1000, sources: Optional[Mapping[int, str]] = None) -> None:
        self.tables = {int(r): {str(k): dict(v) for k, v in t.items()} for r, t in tables.items()}
        for r, t in self.tables.items():
            for k, v in t.items():
                if not isinstance(v.get("mean"), (int, float)) or not math.isfinite(v["mean"]):
                    raise ValueError(f"OFA latency table at resolution {r}: entry {k!r} has no finite 'mean'")
        self.sources = dict(sources or {})
        self.n_classes = int(n_classes)
        self.width_mult = float(width_mult) if width_mult is not None else self._stem_width()

    def _stem_width(self) -> float:
        from ...supernet.ofa_mbv3 import stage_widths

        stems = {int(m.group(3)) for t in self.tables.values() for k in t if (m := _STEM.match(k))}
        for w in (1.0, 1.2):
            if stems == {stage_widths(w)[0]}:
                return w
        return 1.0

    @property
    def resolutions(self) -> list[int]:
        return sorted(self.tables)

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    # ---- io ----------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], **kwargs: Any
             ) -> "OFALatencyTable":
        """Read OFA table files (a file, a list of files, or a folder of ``*.yaml``); each file is one resolution,
        recognised by its ``Conv-input:RxRx3`` key."""
        files = _table_files(paths)
        tables, sources = {}, {}
        for f in files:
            data = _read_yaml(f)
            fmt = table_format(data)
            if fmt != "ofa":
                raise ValueError(f"{f}: not an OFA latency table (keys like {next(iter(data), None)!r}); a folder "
                                 "of OFA tables must hold only OFA tables")
            rs = {int(m.group(1)) for k in data if (m := _STEM.match(k))}
            if len(rs) != 1:
                raise ValueError(f"{f}: an OFA latency table holds one resolution (one 'Conv-input:RxRx3' key), "
                                 f"found {sorted(rs) or 'none'}")
            r = rs.pop()
            if r in tables:
                raise ValueError(f"{f} and {sources[r]} are both tables for resolution {r}; keep one")
            tables[r], sources[r] = data, str(f)
        return cls(tables, sources=sources, **kwargs)

    # ---- prediction --------------------------------------------------------------------------------------------
    def keys_for(self, config: Mapping[str, Any], width_mult: Optional[float] = None,
                 n_classes: Optional[int] = None, resolution: Optional[int] = None) -> list[str]:
        """OFA's keys of subnet ``config`` (its width: ``width_mult``, else its own ``w``, else the table's)."""
        if width_mult is None and Arch.from_config(config).width == 1.0:
            width_mult = self.width_mult
        specs = layer_specs(config, width_mult, self.n_classes if n_classes is None else n_classes, resolution)
        first_conv, final_expand, feature_mix, classifier, *blocks = specs
        r = first_conv.input[0]
        fsize = (r + 1) // 2
        keys = [f"Conv-input:{_shape((r, r, 3))}-output:{_shape((fsize, fsize, first_conv.output[2]))}"]
        for b in blocks:
            out = (fsize - 1) // b.stride + 1
            keys.append(f"expanded_conv-input:{_shape((fsize, fsize, b.input[2]))}-output:"
                        f"{_shape((out, out, b.output[2]))}-expand:{b.mid}-kernel:{b.kernel}-stride:{b.stride}-"
                        f"idskip:{b.idskip}-se:{b.se}-hs:{int(b.act == 'h_swish')}")
            fsize = out
        c_in, c_out, c_mix = final_expand.input[2], final_expand.output[2], feature_mix.output[2]
        keys += [f"Conv_1-input:{_shape((fsize, fsize, c_in))}-output:{_shape((fsize, fsize, c_out))}",
                 f"AvgPool2D-input:{_shape((fsize, fsize, c_out))}-output:{_shape((1, 1, c_out))}",
                 f"Conv_2-input:{_shape((1, 1, c_out))}-output:{_shape((1, 1, c_mix))}",
                 f"Logits-input:{_shape((1, 1, c_mix))}-output:{classifier.output[0]}"]
        return keys

    def predict(self, config: Mapping[str, Any], width_mult: Optional[float] = None,
                n_classes: Optional[int] = None, resolution: Optional[int] = None) -> float:
        """Latency (ms) of subnet ``config``: the sum of its layers' means in the table of its resolution."""
        arch = Arch.from_config(config, resolution=resolution)
        if arch.r is None:
            raise ValueError("config has no resolution 'r': pass resolution=")
        table = self.tables.get(arch.r)
        if table is None:
            raise MissingLatencyKeyError(f"the OFA latency tables cover resolutions {self.resolutions}, not {arch.r}: "
                                         "search those resolutions (--resolutions) or add that table")
        keys = self.keys_for(config, width_mult, n_classes, resolution)
        missing = [k for k in keys if k not in table]
        if missing:
            w = width_mult or (arch.width if arch.width != 1.0 else self.width_mult)
            raise MissingLatencyKeyError(
                f"the OFA latency table {self.sources.get(arch.r, arch.r)} has no entry {missing[0]!r} ({len(missing)} "
                f"of {len(keys)} layers missing at width {w}, {n_classes or self.n_classes} classes); OFA's tables "
                f"cover width {self.width_mult} and {self.n_classes} classes")
        return float(sum(table[k]["mean"] for k in keys))


def _table_files(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
            if not found:
                raise ValueError(f"latency table folder {p} holds no *.yaml files")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"latency table {p} does not exist: build one with `nsganetv2 latency build-lut`")
    return files


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: a latency table must be a YAML map of key -> {{mean, ...}}")
    return dict(data)


def load_latency_table(path: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], **kwargs: Any
                       ) -> Union[LatencyTable, OFALatencyTable]:
    """A latency table of either format, recognised by its keys: the original NSGANetV2's (one file, e.g. the
    i7-8700K table or one built here) or OFA's (a file per resolution: a folder of them, a file, or a list).
    A table in any other format is a ``ValueError`` that says so."""
    files = _table_files(path)
    formats = {}
    for f in files:
        keys = list(_read_yaml(f))
        fmt = table_format(keys) if keys else "nsganetv2"
        if fmt is None:
            raise ValueError(f"{f}: a latency table in a format this version cannot read (keys like {keys[0]!r}); "
                             "readable: the original NSGANetV2's ('first_conv-...', 'MBConv-...') and OFA's "
                             "('Conv-...', 'expanded_conv-...', one file per resolution)")
        formats[f] = fmt
    if set(formats.values()) == {"ofa"}:
        return OFALatencyTable.load(files, **kwargs)
    if len(files) != 1:
        raise ValueError(f"{path}: NSGANetV2-format latency tables are one file each; pass one ({len(files)} found)")
    return LatencyTable.load(files[0], **kwargs)
