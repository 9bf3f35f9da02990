"""One test per command: the CLI maps argv to the API's settings, prints results, and turns errors into exit 2."""
import json

import pytest

from nsganetv2.cli import build_parser, main
from nsganetv2.supernet import OFAMobileNetV3Supernet


@pytest.fixture(scope="module")
def supernet(supernet_file):
    return supernet_file


SMALL = ["--dataset", "mnist5k", "--resolutions", "32", "--vld_size", "100", "--n_calib", "100",
         "--vld_batch_size", "100", "--n_doe", "3", "--iterations", "1", "--n_iter", "1", "--pop_size", "6",
         "--n_gen", "2", "--predictor", "carts", "--quiet"]


def test_search_select_validate_report(supernet, tmp_path, capsys):
    save = tmp_path / "s"
    assert main(["search", "--save", str(save), "--supernet_path", str(supernet), *SMALL]) == 0
    assert "search done: 4 evaluations" in capsys.readouterr().out
    assert main(["search", "--resume", str(save), "--supernet_path", str(supernet), *SMALL]) == 0  # nothing to do
    assert main(["select", "--expr", str(save / "iter_1.stats"), "--save", str(tmp_path / "sel"), "--supernet_path",
                 str(supernet), "--dataset", "mnist5k", "--vld_size", "100", "--n_calib", "100", "--no_onnx"]) == 0
    folder = sorted((tmp_path / "sel").glob("net-flops@*"))[0]
    assert str(folder) in capsys.readouterr().out
    assert main(["validate", "-m", str(folder / "net.config"), "--pretrained", str(folder / "net.inherited")]) == 0
    assert set(json.loads(capsys.readouterr().out.strip().splitlines()[-1])) == {"top1", "top5", "loss", "n"}
    assert main(["report", "--save", str(save)]) == 0
    assert "summary.md" in capsys.readouterr().out


def test_search_a_test_problem(tmp_path, capsys):
    argv = ["search", "--problem", "zdt1", "--save", str(tmp_path / "z"), "--n_doe", "10", "--iterations", "1",
            "--n_iter", "2", "--predictor", "carts", "--quiet"]
    assert main(argv) == 0 and "search done: 12 evaluations" in capsys.readouterr().out


def test_latency_build_predict_measure(supernet, tmp_path, capsys):
    lut = tmp_path / "lut.yaml"
    assert main(["latency", "build-lut", "--save", str(lut), "--resolutions", "32", "--n_classes", "10", "--runs",
                 "2", "--calibrate", "0", "--quiet"]) == 0
    sub = {"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32}
    (tmp_path / "net.subnet").write_text(json.dumps(sub))
    capsys.readouterr()
    assert main(["latency", "predict", "--lut", str(lut), "--subnet", str(tmp_path / "net.subnet"),
                 "--n_classes", "10"]) == 0
    assert capsys.readouterr().out.strip().endswith(" ms")
    from nsganetv2.supernet import save_net_config

    net = OFAMobileNetV3Supernet(n_classes=10).extract(sub)
    save_net_config(net, tmp_path / "net.config", resolution=32)
    assert main(["latency", "measure", "-m", str(tmp_path / "net.config"), "--runs", "3"]) == 0
    assert "median_ms" in capsys.readouterr().out


def test_supernet_train_and_train_commands_parse_into_settings():
    args = build_parser().parse_args(["supernet", "train", "--epochs", "2", "--phases", "full:1,kernel:1"])
    assert args.epochs == 2 and args.func.__name__ == "cmd_supernet_train"
    args = build_parser().parse_args(["train", "--dataset", "mnist5k", "-m", "net.config"])
    assert args.func.__name__ == "cmd_train"
    assert main(["supernet", "train", "--phases", "full:x", "--save", "unused"]) == 2


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["select", "--expr", str(tmp_path / "nope.stats")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["search", "--save", str(tmp_path / "s"), "--supernet_path", str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth does not exist" in capsys.readouterr().err
    assert main(["search", "--save", str(tmp_path / "s2")]) == 2
    assert "needs --supernet_path" in capsys.readouterr().err
    assert main(["search", "--save", str(tmp_path / "s3"), "--supernet_path", "x", "--device", "cpu",
                 "--n_gpus", "2"]) == 2
    assert not (tmp_path / "s3").exists()


@pytest.mark.parametrize("argv, match", [
    (["supernet", "train", "--label_smoothing", "2"], "--label_smoothing must be in"),
    (["latency", "build-lut", "--save", "x.yaml", "--n_classes", "0"], "--n_classes must be >= 1"),
    (["select", "--expr", "{stats}", "--prefer", "top1#nan"], "must be an accuracy in 0..100"),
    (["select", "--expr", "{stats}", "--prefer", "top1#180"], "must be an accuracy in 0..100"),
    (["select", "--expr", "{stats}", "--prefer", "flops#-3"], "must be a finite number >= 0"),
    (["search", "--problem", "zdt1", "--save", "{tmp}/e", "--eval_workers", "-3"], "must be an integer >= 0"),
    (["search", "--problem", "zdt1", "--save", "{tmp}/p", "--predictor_kwargs", '{{"bogus": 1}}'], "bogus"),
    (["search", "--problem", "zdt1", "--save", "{tmp}/q", "--predictor_kwargs", "[1, 2]"], "must be a JSON object"),
    (["search", "--problem", "zdt1", "--save", "{tmp}/n", "--n_doe", "1", "--predictor", "carts"], "raise --n_doe"),
    (["latency", "predict", "--lut", "x.yaml", "--subnet", "{tmp}/list.subnet"], "list.subnet: an architecture is"),
    (["validate", "-m", "{tmp}/empty.config"], "'blocks' must be a non-empty list"),
    (["validate", "-m", "{tmp}/nope.config"], "nope.config"),
])
def test_bad_input_is_one_clear_line_before_any_work(argv, match, tmp_path, capsys):
    stats = tmp_path / "iter_1.stats"
    stats.write_text(json.dumps({"archive": [[{"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32}, 10.0, 5.0]],
                                 "objectives": ["top1", "flops"]}))
    (tmp_path / "list.subnet").write_text("[1, 2, 3]")
    (tmp_path / "empty.config").write_text(json.dumps({"name": "MobileNetV3", "blocks": []}))
    argv = [a.format(stats=stats, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and match in err[0], err
    assert not (tmp_path / "e").exists() and not (tmp_path / "p" / "archive.jsonl").exists()


def test_resume_without_iterations_continues_the_recorded_plan(tmp_path, capsys):
    base = ["--n_doe", "10", "--n_iter", "2", "--predictor", "carts", "--predictor_kwargs", '{"n_trees": 50}',
            "--quiet"]
    assert main(["search", "--problem", "zdt1", "--save", str(tmp_path / "z"), "--iterations", "1", *base]) == 0
    before = (tmp_path / "z" / "archive.jsonl").read_text()
    assert main(["search", "--problem", "zdt1", "--resume", str(tmp_path / "z"), *base]) == 0
    assert (tmp_path / "z" / "archive.jsonl").read_text() == before  # not grown to the default 30 iterations
    assert main(["search", "--problem", "zdt1", "--resume", str(tmp_path / "z"), "--iterations", "2", *base]) == 0
    assert len((tmp_path / "z" / "archive.jsonl").read_text().splitlines()) == 14


def test_train_flags_and_files_that_are_wrong_are_one_line(tmp_path, capsys):
    assert main(["train", "-m", "net.config", "--n_classes", "-5"]) == 2
    assert "--n_classes must be >= 1" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder is wanted")
    assert main(["search", "--problem", "zdt1", "--save", str(blocked / "run"), "--n_doe", "4", "--iterations", "0",
                 "--quiet"]) == 2  # an OSError on the save folder (read-only, full disk, not a folder)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "-v for the traceback" in err[0]


def _actions(parser, path=()):
    import argparse

    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _actions(sub, (*path, name))
        elif a.dest != "help":
            yield " ".join(path), a


def test_every_option_has_help_both_spellings_and_no_contradicting_default():
    parser = build_parser()
    missing = [(cmd, a.dest) for cmd, a in _actions(parser) if not a.help]
    assert missing == []
    for cmd, a in _actions(parser):
        long = [o for o in a.option_strings if o.startswith("--")]
        for opt in long:
            assert opt.replace("_", "-") in a.option_strings and opt.replace("-", "_").replace("__", "--", 1) in \
                a.option_strings, (cmd, opt)
    text = parser._subparsers._group_actions[0].choices["search"].format_help()
    assert "(default: None)" not in text and text.count("(default: 192-256:4") == 1  # stated once, truly
    assert "exit codes: 0 done; 2" in parser.format_help()


def test_verbose_and_quiet_work_before_and_after_the_command():
    p = build_parser()
    for argv in (["-q", "report", "--save", "x"], ["report", "--save", "x", "-q"], ["report", "-q", "--save", "x"]):
        args = p.parse_args(argv)
        assert args.quiet is True and args.verbose is False, argv
    assert p.parse_args(["demo", "-v"]).verbose is True and p.parse_args(["-v", "demo"]).verbose is True
    a = p.parse_args(["search", "--n-doe", "7", "--pop-size", "9", "--supernet-path", "s.pth"])
    assert (a.n_doe, a.pop_size, a.supernet_path) == (7, 9, "s.pth")


def test_a_run_config_file_and_a_resume_that_needs_no_flags(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("problem: zdt1\nn_doe: 10\niterations: 1\nn_iter: 2\npredictor: carts\n"
                   "predictor_kwargs: {n_trees: 50}\nseed: 4\n")
    save = tmp_path / "z"
    assert main(["search", "--config", str(cfg), "--save", str(save), "--n_iter", "3", "-q"]) == 0
    written = (save / "config.yaml").read_text()
    assert "n_doe: 10" in written and "n_iter: 3" in written and "seed: 4" in written  # the flag won
    assert len((save / "archive.jsonl").read_text().splitlines()) == 13
    assert main(["search", "--resume", str(save), "--iterations", "2", "-q"]) == 0  # nothing else given
    assert len((save / "archive.jsonl").read_text().splitlines()) == 16
    (tmp_path / "bad.yaml").write_text("n_dooe: 3\n")
    assert main(["search", "--config", str(tmp_path / "bad.yaml"), "--save", str(tmp_path / "b")]) == 2
    assert "unknown setting(s) ['n_dooe']" in capsys.readouterr().err


def test_version_prints_the_one_version(capsys):
    import nsganetv2

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"nsganetv2 {nsganetv2.__version__}"


def test_a_quiet_command_leaves_the_callers_logging_as_it_was(tmp_path):
    import logging

    ours = logging.getLogger("nsganetv2")
    before = ours.level
    main(["-q", "report", "--save", str(tmp_path / "none")])
    assert ours.level == before
