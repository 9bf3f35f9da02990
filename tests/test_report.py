"""Search reports: PNG plots and the markdown summary, written from the files of a real (small) search."""
import pytest

from nsganetv2.report import make_report, plot_front, write_summary
from nsganetv2.search import MSuNAS, test_problem

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep") / "search"
    MSuNAS(test_problem("zdt1", n_var=6, expensive=(0, 1)), d, n_doe=12, iterations=2, n_iter=4, seed=0,
           progress=False, n_gen=8).run()
    return d


def test_make_report_writes_pngs_and_summary(search_dir):
    paths = make_report(search_dir)
    names = sorted(p.name for p in paths)
    assert names == sorted(["front_iter_0.png", "front_iter_1.png", "front_iter_2.png", "hv.png",
                            "surrogate.png", "summary.md"])
    for p in paths:
        assert p.parent == search_dir / "report" and p.stat().st_size > 1000
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG


def test_summary_tables_match_the_search(search_dir):
    text = write_summary(search_dir).read_text()
    res = MSuNAS.load(search_dir, test_problem("zdt1", n_var=6, expensive=(0, 1))).result()
    hv_rows = [ln for ln in text.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip().isdigit()
               and ln.count("|") == 12]
    assert [int(r.split("|")[2]) for r in hv_rows] == [n for n, _ in res.hv]
    assert [float(r.split("|")[3]) for r in hv_rows] == pytest.approx([h for _, h in res.hv], abs=1e-5)
    assert f"## Final front ({int(res.front.sum())} of {len(res.F)} successful)" in text
    front_rows = [ln for ln in text.splitlines() if ln.count("|") == 6 and ln.split("|")[1].strip().isdigit()]
    assert len(front_rows) == int(res.front.sum())
    f1 = sorted(float(r.split("|")[2]) for r in front_rows)
    assert f1 == pytest.approx(sorted(res.F[res.front][:, 0]), rel=1e-3)


def test_three_objectives_and_bad_folder(tmp_path):
    d = tmp_path / "m"
    MSuNAS(test_problem("dtlz2", n_obj=3, n_var=6), d, n_doe=10, iterations=1, n_iter=3, seed=0, progress=False,
           n_gen=5).run()
    p = plot_front(d, 1)
    assert p.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="search folder"):
        make_report(tmp_path / "nothing")
    assert "| # | f1 | f2 | f3 | iteration | config |" in write_summary(d).read_text()
