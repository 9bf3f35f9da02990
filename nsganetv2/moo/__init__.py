"""Multi-objective core: numpy in, numpy out, over compiled kernels (all objectives minimised)."""
from nsganetv2.moo.crowding import crowding_distance
from nsganetv2.moo.hypervolume import hv_contributions, hypervolume, hypervolume_contributions
from nsganetv2.moo.indicators import epsilon_additive, igd, igd_plus
from nsganetv2.moo.sorting import fronts, non_dominated_sort, pareto_mask

__all__ = ["non_dominated_sort", "fronts", "pareto_mask", "hypervolume", "hv_contributions", "hypervolume_contributions",
           "crowding_distance", "igd", "igd_plus", "epsilon_additive"]
