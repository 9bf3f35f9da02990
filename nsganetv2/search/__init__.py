"""The MSuNAS search: problems, the archive and run folder, the proposal step and the loop (ask/tell)."""
from nsganetv2.search.archive import Archive, read_records
from nsganetv2.search.folder import RunFolder, read_state
from nsganetv2.search.msunas import Asked, IterationInfo, MSuNAS, SearchResult, SetupError
from nsganetv2.search.problem import EvalResult, SearchProblem
from nsganetv2.search.problems import OFANASProblem, PymooTestProblem, objectives_from_flags, test_problem
from nsganetv2.search.subset import subset_selection

__all__ = ["Archive", "Asked", "EvalResult", "IterationInfo", "MSuNAS", "OFANASProblem", "PymooTestProblem", "RunFolder",
           "SearchProblem", "SearchResult", "SetupError", "objectives_from_flags", "read_records", "read_state", "subset_selection",
           "test_problem"]
