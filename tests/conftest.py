import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for the module: on a shared 2-core machine more oversubscribe badly (DESIGN.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def supernet_file(tmp_path_factory):
    """A randomly initialised 10-class OFA MobileNetV3 supernet checkpoint (w1.0), written once per session."""
    from nsganetv2.supernet import OFAMobileNetV3Supernet, save_supernet

    path = tmp_path_factory.mktemp("supernet") / "supernet_w1.0.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        save_supernet(OFAMobileNetV3Supernet(n_classes=10), path)
    return path
