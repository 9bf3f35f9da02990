"""The compiled kernels' C headers (csrc/moo/*.h): each compiles on its own, they form layers without circles, and
the Python names of the kernels' path selectors are the C ones."""
from __future__ import annotations

import ast
import platform
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
MOO = CSRC / "moo"
HEADERS = sorted(p.name for p in MOO.glob("*.h"))
COMMON = "moo_common.h"
DISPATCHERS = {"hv.h"}  # the only headers that include algorithm headers
X86 = platform.machine().lower() in ("x86_64", "amd64")

# name, extra flags, full compile (code generation, where target-attribute and intrinsic mismatches show) or syntax only
VARIANTS = [("build", [], True), *([("avx2", ["-mavx2", "-mfma"], False)] if X86 else []),  # AVX2 paths: x86-64
            ("portable", ["-DHV_NO_SIMD"], False)]


def _local_includes(header: str) -> list[str]:
    return re.findall(r'^\s*#\s*include\s+"([^"]+)"', (MOO / header).read_text(), re.M)


def test_headers_form_layers_without_circles() -> None:
    """moo_common.h includes none of ours; every other header includes it, and the algorithm headers nothing else."""
    assert COMMON in HEADERS
    assert _local_includes(COMMON) == []
    graph = {h: _local_includes(h) for h in HEADERS}
    for h, inc in graph.items():
        if h == COMMON:
            continue
        assert COMMON in inc, f"{h} does not include {COMMON}"
        assert all(i in HEADERS for i in inc), f"{h} includes {inc}: not all are csrc/moo headers"
        if h in DISPATCHERS:
            assert not set(inc) & DISPATCHERS, f"{h} includes another dispatcher: {inc}"
        else:
            assert inc == [COMMON], f"algorithm header {h} includes {inc}; it may include only {COMMON}"

    def visit(h: str, path: tuple[str, ...]) -> None:
        assert h not in path, f"include circle: {' -> '.join(path + (h,))}"
        for i in graph[h]:
            visit(i, path + (h,))

    for h in HEADERS:
        visit(h, ())


@lru_cache(maxsize=None)
def _compiler() -> tuple[str, ...]:
    """The command setup.py's build_ext compiles with: the configured C compiler and flags (no debug info, which
    changes no diagnostic), then setup.py's extra_compile_args."""
    from distutils import ccompiler, sysconfig

    cc = ccompiler.new_compiler()
    sysconfig.customize_compiler(cc)
    assert cc.compiler_type == "unix", f"the kernels build with a unix-style C compiler, not {cc.compiler_type}"
    extra: list[str] = []
    for node in ast.walk(ast.parse((ROOT / "setup.py").read_text())):
        if isinstance(node, ast.keyword) and node.arg == "extra_compile_args":
            extra = ast.literal_eval(node.value)
    return tuple(a for a in cc.compiler_so if a != "-g") + tuple(extra)


def _compile(source: str, flags: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*_compiler(), *flags, "-I", str(CSRC), "-x", "c", "-"], input=source, text=True,
                          capture_output=True, timeout=300)


@lru_cache(maxsize=None)
def _keep_static() -> list[str]:
    """-fkeep-static-functions (GCC) makes the compiler generate every static function, used or not."""
    probe = _compile("static int f(void) { return 0; }\n",
                     ["-fkeep-static-functions", "-c", "-o", "/dev/null", "-Werror", "-Wno-unused-function"])
    ok = probe.returncode == 0
    return ["-fkeep-static-functions"] if ok else []


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("header", HEADERS)
def test_each_header_compiles_alone(header: str, variant: tuple[str, list[str], bool]) -> None:
    """A translation unit holding only `#include "moo/<header>"` compiles without a warning, with the build's flags
    (x86: the AVX2 paths behind target attributes), with -mavx2 -mfma, and as the portable build (-DHV_NO_SIMD)."""
    name, flags, full = variant
    mode = ["-c", "-o", "/dev/null", *_keep_static()] if full else ["-fsyntax-only"]
    # entry points are unused in such a unit: that one warning is expected
    res = _compile(f'#include "moo/{header}"\n', [*flags, *mode, "-Werror", "-Wno-unused-function"])
    assert res.returncode == 0, f"moo/{header} alone, {name} ({' '.join(flags)}):\n{res.stderr}"


def _c_enum(prefix: str) -> dict[str, int]:
    text = (MOO / COMMON).read_text()
    found = {k: int(v) for k, v in re.findall(rf"^\s*{prefix}(\w+)\s*=\s*(\d+)", text, re.M)}
    found.pop("COUNT")
    return found


def test_python_selector_names_are_the_c_ones() -> None:
    from nsganetv2.moo import _hypervolume, _sorting
    from nsganetv2.moo._paths import HVPath, NDSAlgo

    hv = {p.name: int(p) for p in HVPath}
    assert hv == _c_enum("HV_PATH_") == _hypervolume.C_PATHS
    nds = {a.name: int(a) for a in NDSAlgo}
    assert nds == _c_enum("MOO_NDS_") == _sorting.C_ALGOS
