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


@pytest.fixture(scope="session")
def body():
    """The procedural body model (the project's own SMPL-format body; no SMPL files are needed)."""
    from hmr_ros.smpl.body_model import load_body_model

    return load_body_model("procedural")


@pytest.fixture
def tiny_net():
    """The smallest SIAM the tests train and run: HRNet-W18, 64 px, a window of 2, 2 people (a fresh config per
    test, so one test's ``dataclasses.replace`` or edit never leaks into another)."""
    from hmr_ros.model.siam import SIAMConfig

    return SIAMConfig(width="w18", input_size=64, window=2, max_people=2)
