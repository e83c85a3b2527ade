"""Fixtures shared by the test modules."""
import pytest
import torch


@pytest.fixture(scope="module")
def single_torch_thread():
    """One intra-op thread for modules of many tiny convolutions: on the 2-core CI box that beats
    oversubscription. Opt in with ``pytestmark = pytest.mark.usefixtures("single_torch_thread")``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
