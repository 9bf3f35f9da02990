"""Search callbacks (per iteration: archive size, HV, surrogate metrics, timing), the MLflow and TensorBoard adapters
read back from a local file store / event file, ``--tracking`` on the command line, and ``report --csv``."""
import csv
import json
import logging
import sys

import pytest

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.search import IterationInfo, MSuNAS, test_problem
from nsganetv2.tracking import MLflowTracker, TensorBoardTracker, make_tracker

SMALL = dict(problem="zdt1", n_doe=8, iterations=2, n_iter=2, predictor="carts", pop_size=8, n_gen=2, progress=False)


class Recorder:
    def __init__(self):
        self.infos: list[IterationInfo] = []
        self.closed = 0

    def __call__(self, info: IterationInfo) -> None:
        self.infos.append(info)

    def close(self) -> None:
        self.closed += 1


def test_callbacks_get_every_iteration_and_are_not_recorded(tmp_path):
    rec = Recorder()
    result = api.search(api.SearchSettings(**SMALL, callbacks=[rec]), tmp_path / "s", write_report=False)
    assert [i.iteration for i in rec.infos] == [0, 1, 2] and rec.closed == 1
    for info in rec.infos:
        stats = json.loads((tmp_path / "s" / f"iter_{info.iteration}.stats").read_text())
        assert info.hv == stats["hv"] and info.archive_size == stats["n_evaluations"]
        assert info.iterations == 2 and info.objective_names == ("f1", "f2") and info.save_dir == tmp_path / "s"
        assert set(info.timing) == {"search_s", "eval_s"} and info.front.shape[1] == 2
        m = info.metrics()
        assert {"hv", "archive_size", "n_evaluated", "n_failed", "front_size", "search_s", "eval_s"} <= set(m)
        assert all(isinstance(v, float) for v in m.values())
    assert rec.infos[0].surrogate is None and rec.infos[0].n_evaluated == 8
    assert {"rmse", "rho", "tau"} <= set(rec.infos[1].surrogate) and "surrogate_rmse" in rec.infos[1].metrics()
    assert rec.infos[-1].archive_size == result.n_evaluations == 12
    assert rec.infos[0].settings["n_doe"] == 8 and rec.infos[0].settings["seed"] == 0
    assert "callbacks" not in (tmp_path / "s" / "search.json").read_text()


def test_a_failing_callback_is_logged_and_the_search_goes_on(tmp_path, caplog):
    def broken(info):
        raise RuntimeError("tracking server down")

    rec = Recorder()
    with caplog.at_level(logging.WARNING, logger="nsganetv2.search.msunas"):
        MSuNAS(test_problem("zdt1"), tmp_path / "s", n_doe=8, iterations=1, n_iter=2, predictor="carts", pop_size=8,
               n_gen=2, progress=False, callbacks=[broken, rec]).run()
    assert [i.iteration for i in rec.infos] == [0, 1]
    assert "tracking server down" in caplog.text and "the search goes on" in caplog.text
    with pytest.raises(ValueError, match="callables"):
        MSuNAS(test_problem("zdt1"), tmp_path / "t", callbacks=["not callable"])


def test_a_resumed_search_reports_only_the_iterations_it_completes(tmp_path):
    save = tmp_path / "s"
    api.search(api.SearchSettings(**{**SMALL, "iterations": 1}), save, write_report=False)
    rec = Recorder()
    api.resume(save, api.SearchSettings(**SMALL, callbacks=[rec]), iterations=2, write_report=False)
    assert [i.iteration for i in rec.infos] == [2] and rec.closed == 1


def test_ask_tell_calls_the_callbacks(tmp_path):
    rec = Recorder()
    search = api.open_search(api.SearchSettings(**{**SMALL, "iterations": 1}, callbacks=[rec]), tmp_path / "s")
    problem = test_problem("zdt1")
    while (asked := search.ask()) is not None:
        search.tell(asked.X, [problem.evaluate_expensive(x[None])[0] for x in asked.X])
    assert [i.iteration for i in rec.infos] == [0, 1]


@pytest.fixture
def file_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.x refuses a file store without it


def test_mlflow_tracker_logs_to_a_local_file_store(tmp_path, file_store):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    tracker = MLflowTracker(uri, experiment="exp", run_name="zdt1-run")
    api.search(api.SearchSettings(**SMALL, callbacks=[tracker]), tmp_path / "s", write_report=False)
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert run.info.run_name == "zdt1-run" and run.info.status == "FINISHED"
    hv = client.get_metric_history(run.info.run_id, "hv")
    stats = [json.loads((tmp_path / "s" / f"iter_{k}.stats").read_text())["hv"] for k in range(3)]
    assert [m.step for m in sorted(hv, key=lambda m: m.step)] == [0, 1, 2]
    assert [m.value for m in sorted(hv, key=lambda m: m.step)] == pytest.approx(stats)
    assert {"archive_size", "surrogate_rmse", "eval_s"} <= set(run.data.metrics)
    assert run.data.params["n_doe"] == "8" and run.data.params["predictor"] == "carts"
    assert run.data.tags["nsganetv2.save_dir"] == str(tmp_path / "s")


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_tracker_writes_an_event_file(tmp_path):
    api.search(api.SearchSettings(**SMALL, callbacks=[TensorBoardTracker(tmp_path / "tb")]), tmp_path / "s",
               write_report=False)
    scalars = _scalars(tmp_path / "tb")
    assert [step for step, _ in scalars["search/hv"]] == [0, 1, 2]
    assert scalars["search/archive_size"][-1] == (2, 12.0)
    assert "search/surrogate_tau" in scalars


def test_cli_tracking_flags(tmp_path, capsys, file_store):
    argv = ["search", "--problem", "zdt1", "--n_doe", "8", "--iterations", "1", "--n_iter", "2", "--predictor",
            "carts", "--pop_size", "8", "--n_gen", "2", "--quiet"]
    assert main([*argv, "--save", str(tmp_path / "tb"), "--tracking", "tensorboard"]) == 0
    assert [s for s, _ in _scalars(tmp_path / "tb" / "tensorboard")["search/hv"]] == [0, 1]
    uri = (tmp_path / "mlruns").as_uri()
    assert main([*argv, "--save", str(tmp_path / "ml"), "--tracking", "mlflow", "--tracking_uri", uri]) == 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("nsganetv2").experiment_id])
    assert run.info.run_name == "ml" and len(client.get_metric_history(run.info.run_id, "hv")) == 2


def test_missing_tracking_packages_are_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(RuntimeError, match=r"pip install 'nsganetv2\[tracking\]'"):
        make_tracker("mlflow")
    assert main(["search", "--problem", "zdt1", "--save", str(tmp_path / "s"), "--tracking", "mlflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: mlflow is not installed") and "nsganetv2[tracking]" in err and "\n" not in err
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="unknown tracker"):
        make_tracker("wandb")


def test_an_unreachable_mlflow_store_is_refused_before_the_search(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    assert main(["search", "--problem", "zdt1", "--save", str(tmp_path / "s"), "--tracking", "mlflow",
                 "--tracking_uri", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: MLflow tracking URI {uri}: ") and "\n" not in err
    assert not (tmp_path / "s").exists()


def test_report_csv_is_the_archive_as_a_table(tmp_path, capsys):
    save = tmp_path / "s"
    result = api.search(api.SearchSettings(**SMALL), save, write_report=False)
    assert main(["report", "--save", str(save), "--csv"]) == 0
    path = save / "report" / "archive.csv"
    assert str(path) in capsys.readouterr().out
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["iteration", "index", "status", "f1", "f2", "error", "config", "key"]
    assert len(rows) == result.n_evaluations == 12
    df = result.to_dataframe()
    assert [float(r["f1"]) for r in rows] == pytest.approx(df["f1"].tolist())
    assert [r["key"] for r in rows] == df["key"].tolist()
    assert json.loads(rows[0]["config"]) == df["config"][0]
