import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for the module: on a shared 2-core machine more oversubscribe badly (DESIGN.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
