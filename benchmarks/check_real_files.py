"""Checks on the real files of the original NSGANetV2, NAT and OFA (``../shared/real``, see its README).

Not a test (the project's tests write small files of the same formats themselves): a script that reads the real
files and prints, per section, what reproduces and what does not.

    python benchmarks/check_real_files.py --real ../shared/real [--sections nat,ofa,lut,note10,flops,import]

Sections:
- ``nat``: the 14 NAT ``net.config`` (old layout, Mish in 6) build, run, and have the params/FLOPs of their
  ``net.subnet`` at its width; the resolution comes from ``img_size`` where the config has it;
- ``ofa``: the 34 OFA ``net.config`` build with logits equal to the ``ofa`` package's, the resolution from
  ``run.config``;
- ``lut``: ``latency predict`` with the i7-8700K table on the 14 NAT ``net.subnet`` honours their ``w`` and equals the
  original's sum over the layers of the ``net.config``;
- ``note10``: OFA's Note10 tables read in OFA's format equal ``ofa``'s ``LatencyTable.predict_efficiency``;
- ``flops``: ``--flops_counter original`` reproduces ``flops`` of every ``net_i.stats`` of the three CNAS runs;
- ``import``: the three CNAS runs imported; HV per iteration equal to the original's ``hv``, every row imported.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


# --------------------------------------------------------------------------------------------------- NAT configs
def check_nat(real: Path) -> None:
    from nsganetv2 import api
    from nsganetv2.evaluation.complexity import complexity, profile_module
    from nsganetv2.evaluation.validate import load_network, network_resolution

    section("NAT: 14 net.config (old layout; Mish in 6) and their net.subnet")
    print("| net | act | r (source) | w | classes | builds + runs | params M (config) | params M (subnet, w) | "
          "MACs M (config) | MACs M (subnet, w) | original counter M | name's flops |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = 0
    configs = sorted((real / "nat_subnets").glob("*/*/net.config"))
    for cfg_path in configs:
        cfg = json.loads(cfg_path.read_text())
        acts = sorted({(b.get("mobile_inverted_conv") or b.get("conv"))["act_func"] for b in cfg["blocks"]})
        net = load_network(cfg_path)
        r, source = network_resolution(cfg_path)
        with torch.no_grad():
            y = net(torch.randn(1, 3, r, r))
        runs = bool(torch.isfinite(y).all()) and y.shape == (1, net.n_classes)
        sub = api.load_subnet(cfg_path.with_name("net.subnet"))  # the width of the net.config where it lacks "w"
        cx_net = profile_module(net, r)
        cx_sub = complexity(sub.to_config(), n_classes=net.n_classes, resolution=r)
        same = cx_net == cx_sub
        ok += runs and same
        name = cfg_path.parent.name
        flops_in_name = name.split("flops@")[1].split("-")[0] if "flops@" in name else "-"
        src = "default 224" if source.startswith("the default") else source.split(" in ")[0]
        print(f"| {cfg_path.parent.parent.name}/{name} | {'+'.join(acts)} | {r} ({src}) | {sub.width} | "
              f"{net.n_classes} | {'yes' if runs else 'NO'} | {cx_net.params / 1e6:.3f} | {cx_sub.params / 1e6:.3f} | "
              f"{cx_net.flops / 1e6:.1f} | {cx_sub.flops / 1e6:.1f} | "
              f"{profile_module(net, r, counter='original').flops / 1e6:.1f} | {flops_in_name} |")
    print(f"\n{ok} of {len(configs)} NAT configs build, run, and count the same params and MACs as their net.subnet "
          "at its own width")


# --------------------------------------------------------------------------------------------------- OFA configs
def check_ofa(real: Path) -> None:
    from ofa.utils.layers import set_layer_from_config  # noqa: F401  (the oracle must import)
    from ofa.imagenet_classification.networks import MobileNetV3 as OFAMobileNetV3Static

    from nsganetv2.evaluation.validate import load_network, network_resolution

    section("OFA: 34 specialised net.config, logits against the ofa package")
    configs = sorted((real / "ofa_specialized").glob("*/net.config"))
    worst, ok, rs = 0.0, 0, []
    for cfg_path in configs:
        cfg = json.loads(cfg_path.read_text())
        ours = load_network(cfg_path)
        r, source = network_resolution(cfg_path)
        rs.append(r)
        theirs = OFAMobileNetV3Static.build_from_config(json.loads(json.dumps(cfg)))
        torch.manual_seed(0)
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.randn_like(p) * 0.1)
            for name, b in theirs.named_buffers():
                if name.endswith("running_var"):
                    b.uniform_(0.5, 1.5)
                elif name.endswith("running_mean"):
                    b.normal_(0, 0.1)
            ours.load_state_dict(theirs.state_dict())
            theirs.eval()
            x = torch.randn(2, 3, r, r)
            diff = float((ours(x) - theirs(x)).abs().max())
        worst = max(worst, diff)
        ok += diff < 1e-4 and "run.config" in source
    print(f"{ok} of {len(configs)} build with the resolution of their run.config "
          f"({min(rs)}-{max(rs)} px) and give ofa's logits (max |diff| {worst:.2e})")


# ------------------------------------------------------------------------------------------- the i7-8700K table
def check_lut(real: Path) -> None:
    from nsganetv2 import api
    from nsganetv2.evaluation.latency import LatencyTable

    section("i7-8700K table: NAT net.subnet with their w honoured")
    lut_path = real / "nsganetv2_orig" / "i7-8700K_lut.yaml"
    lut = LatencyTable.load(lut_path)
    print("| net | w in net.subnet | w used | `latency predict` ms | at w1.0 (before) ms | difference | "
          "original's sum over net.config |")
    print("|---|---|---|---|---|---|---|")
    agree = 0
    subnets = sorted((real / "nat_subnets").glob("*/*/net.subnet"))
    for sub in subnets:
        arch = api.load_subnet(sub)
        ours = api.predict_latency(lut_path, sub)
        at10 = lut.predict({k: v for k, v in arch.to_config().items() if k != "w"}, width_mult=1.0)
        cfg = json.loads(sub.with_name("net.config").read_text())
        cfg["classifier"] = dict(cfg["classifier"], out_features=1000)  # the table holds 1000-class heads only
        original = lut.predict_net(cfg, resolution=arch.r)
        agree += abs(ours - original) < 1e-9
        print(f"| {sub.parent.parent.name}/{sub.parent.name} | {json.loads(sub.read_text()).get('w', '-')} | "
              f"{arch.width} | {ours:.3f} | {at10:.3f} | "
              f"{100 * (at10 - ours) / ours:+.1f} % | {original:.3f} |")
    print(f"\n{agree} of {len(subnets)} equal the original's look-up over their net.config")


# --------------------------------------------------------------------------------------------- OFA Note10 tables
def check_note10(real: Path, n: int = 2000) -> None:
    import yaml

    from nsganetv2.evaluation.latency import load_latency_table
    from ofa_oracle import ofa_latency_table

    section("OFA Note10 tables (OFA's key format) against ofa's LatencyTable.predict_efficiency")
    folder = real / "ofa_note10_lut"
    ours = load_latency_table(folder)
    luts = {}
    for f in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        r = next(int(k.split(":")[1].split("x")[0]) for k in data if k.startswith("Conv-"))
        luts[r] = data
    theirs = ofa_latency_table(luts)
    rng = np.random.default_rng(0)
    worst, lat = 0.0, []
    for i in range(n):
        spec = {"ks": rng.choice([3, 5, 7], 20).tolist(), "e": rng.choice([3, 4, 6], 20).tolist(),
                "d": rng.choice([2, 3, 4], 5).tolist(), "r": [int(rng.choice(ours.resolutions))]}
        a, b = ours.predict(spec), theirs.predict_efficiency(spec)
        worst = max(worst, abs(a - b))
        lat.append(a)
    print(f"{len(ours)} entries in {len(ours.resolutions)} files (resolutions {ours.resolutions}, width "
          f"{ours.width_mult} from the stem); {n} random specs: latency {min(lat):.2f}-{max(lat):.2f} ms, "
          f"max |ours - ofa| = {worst:.3g} ms")


# ------------------------------------------------------------------------------------ FLOPs, the original's way
def check_flops(real: Path) -> None:
    from nsganetv2.evaluation.complexity import count_flops, count_params
    from nsganetv2.search.importer import original_rows

    section("FLOPs: --flops_counter original against net_i.stats of the CNAS runs (torchprofile 0.0.1)")
    print("| run | rows with stats | params exact | flops: max abs diff original (M) | within 0.02 M | "
          "OFA definition below by (%) |")
    print("|---|---|---|---|---|---|")
    for run in sorted(p for p in (real / "cnas_runs").iterdir() if p.is_dir()):
        rows, _ = original_rows(run)
        ok = [r for r in rows if r.stats is not None]
        consistent = [r for r in ok if round(count_params(r.config, n_classes=10) / 1e6, 2) == r.stats["params"]]
        d = np.array([round(count_flops(r.config, n_classes=10, counter="original") / 1e6, 2) - r.stats["flops"]
                      for r in consistent])
        rel = np.array([100 * (1 - count_flops(r.config, n_classes=10) / 1e6 / r.stats["flops"]) for r in consistent])
        print(f"| {run.name} | {len(ok)} | {len(consistent)} | {np.abs(d).max():.3f} | "
              f"{int((np.abs(d) <= 0.02 + 1e-9).sum())} of {len(consistent)} | {rel.min():.2f}-{rel.max():.2f} |")
    print("\n(rows whose params differ from their net_i.subnet hold the stats of another architecture, a fault of "
          "that run's files; they are left out of the FLOPs comparison)")


# --------------------------------------------------------------------------------------- importing the CNAS runs
def check_import(real: Path) -> None:
    from nsganetv2 import api
    from nsganetv2.search import read_records

    section("import: the three CNAS runs")
    print("| run | rows | records + duplicates | failed | objectives | resolutions | iterations with the original's hv "
          "| max abs hv diff | report | select |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for run in sorted(p for p in (real / "cnas_runs").iterdir() if p.is_dir()):
            save = Path(tmp) / run.name
            rep = api.import_run(run, save)
            records = read_records(save / "archive.jsonl")
            n_dup = sum(len(r.get("duplicates", [])) for r in records)
            n_report = len(api.report(save))
            chosen = api.select(api.SelectSettings(expr=str(save / f"iter_{rep.iterations}.stats"), n=3),
                                Path(tmp) / "final" / run.name)
            compared = sum(h is not None for _, _, h in rep.hv)
            print(f"| {run.name} | {rep.rows} | {len(records)} + {n_dup} | {rep.failed} | {', '.join(rep.objectives)} "
                  f"| {rep.resolutions[0]}-{rep.resolutions[-1]}:{rep.resolutions[1] - rep.resolutions[0]} | "
                  f"{compared} | {rep.hv_max_abs_diff:.2e} | {n_report} files | {len(chosen)} folders |")
            for note in rep.notes:
                print(f"  - note ({run.name}): {note}")
        # continuing the FR run with our loop (ask/tell: the evaluation would need CIFAR-10 and the supernet)
        save = Path(tmp) / "search-noconstraintsFR-cifar10-mbv3-w1.0"
        settings = api.SearchSettings(objectives=api.recorded_objectives(save), dataset="cifar10", progress=False)
        search = api.open_search(settings, save, resume=True, iterations=31)
        asked = search.ask()
        print(f"\nsearch --resume of the imported FR run (objectives {settings.objectives}, the recorded "
              f"resolutions and FLOPs counter): iteration {asked.iteration} proposes {len(asked)} new architectures, "
              f"none in the archive of {len(records)}")


# ------------------------------------------------------------------------------- net.config for the old readers
def check_legacy(real: Path) -> None:
    from ofa_oracle import read_old_layout

    from nsganetv2 import api
    from nsganetv2.supernet import OFAMobileNetV3Supernet, load_net_config, save_net_config

    section("net.config in the old layout: the test's OFA 0.0.4 reader on the real files, then on ours")
    real_configs = sorted(real.glob("nat_subnets/*/*/net.config")) + sorted(real.glob("ofa_specialized/*/net.config")) \
        + sorted(real.glob("cnas_runs/*/final/*/net.config"))
    for path in real_configs:
        read_old_layout(json.loads(path.read_text()))  # the reader accepts every config the old code wrote
    ok = 0
    subnets = sorted(real.glob("nat_subnets/*/*/net.subnet"))
    with tempfile.TemporaryDirectory() as tmp:
        for sub in subnets:
            arch = api.load_subnet(sub)
            net = OFAMobileNetV3Supernet(n_classes=1000, width_mult=arch.width).extract(arch.to_config())
            save_net_config(net, Path(tmp) / "net.config", resolution=arch.r)
            old = read_old_layout(load_net_config(Path(tmp) / "net.config"))
            ok += old["resolution"] == arch.r
    print(f"the reader accepts all {len(real_configs)} real old-layout configs (14 NAT, 34 OFA, CNAS final); "
          f"{ok} of {len(subnets)} net.config we write for the NAT subnets read in it with their resolution")


SECTIONS = {"nat": check_nat, "ofa": check_ofa, "lut": check_lut, "note10": check_note10, "flops": check_flops,
            "import": check_import, "legacy": check_legacy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default="../shared/real", help="the folder of real files (see its README)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    args = ap.parse_args()
    real = Path(args.real)
    if not (real / "README.md").is_file():
        raise SystemExit(f"{real} is not the folder of real files (no README.md)")
    torch.set_num_threads(1)
    for name in args.sections.split(","):
        t = time.perf_counter()
        SECTIONS[name.strip()](real)
        print(f"\n({name}: {time.perf_counter() - t:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
