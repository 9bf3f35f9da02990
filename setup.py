"""Only the compiled kernels: every ``csrc/<package>/<name>.pyx`` becomes ``nsganetv2.<package>.<name>``.

Set ``NSGANETV2_EXT=name[,name]`` to build a subset (handy while developing one kernel).
"""
import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
ONLY = {n for n in os.environ.get("NSGANETV2_EXT", "").split(",") if n}


def _extensions() -> list[Extension]:
    exts = []
    for src in sorted((HERE / "csrc").glob("*/*.pyx")):
        if ONLY and src.stem not in ONLY:
            continue
        package = src.parent.name
        exts.append(
            Extension(
                f"nsganetv2.{package}.{src.stem}",
                [str(src.relative_to(HERE))],
                depends=[str(h.relative_to(HERE)) for h in sorted(src.parent.glob("*.h"))],
                include_dirs=[numpy.get_include(), str(HERE / "csrc")],
                extra_compile_args=["-O3", "-ffp-contract=off"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        _extensions(),
        language_level=3,
        build_dir="build/cython",
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True, "initializedcheck": False},
    )
)
