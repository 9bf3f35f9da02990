"""The MSuNAS search: problems, the archive, subset selection and the loop."""
from nsganetv2.search.archive import Archive, read_records, write_json_atomic
from nsganetv2.search.msunas import MSuNAS, SearchResult
from nsganetv2.search.problem import EvalResult, SearchProblem
from nsganetv2.search.problems import OFANASProblem, PymooTestProblem, objectives_from_flags, test_problem
from nsganetv2.search.subset import subset_selection

__all__ = ["Archive", "EvalResult", "MSuNAS", "OFANASProblem", "PymooTestProblem", "SearchProblem", "SearchResult",
           "objectives_from_flags", "read_records", "subset_selection", "test_problem", "write_json_atomic"]
