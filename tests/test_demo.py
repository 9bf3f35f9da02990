"""End to end: a miniature of `make demo` through the CLI (train supernet, LUT, two searches, select, validate)."""
import json
import subprocess
import sys


def test_quick_demo_runs_end_to_end(tmp_path):
    save = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "nsganetv2.cli", "demo", "--quick", "--quiet", "--save", str(save)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "demo finished" in proc.stdout
    assert (save / "supernet" / "supernet.pth").exists()
    assert (save / "latency_lut.yaml").exists()
    for name in ("search_top1_flops", "search_top1_flops_cpu"):
        stats = json.loads((save / name / "iter_1.stats").read_text())
        assert stats["archive"], name
        assert list((save / name).rglob("*.png")), name
    three = json.loads((save / "search_top1_flops_cpu" / "iter_1.stats").read_text())
    assert three["objectives"] == ["top1", "flops", "cpu"]
    assert all(len(row) == 4 and row[3] > 0 for row in three["archive"])
    selected = sorted((save / "selected").glob("net-flops@*"))
    assert selected and all((f / "net.onnx").exists() for f in selected)
    summary = (save / "SUMMARY.md").read_text()
    assert "validation of" in summary and '"top1"' in summary
    assert "### Final front" in summary and "| top1_err | flops | cpu |" in summary  # both searches' front tables
    assert summary.count("### Hypervolume") == 2
