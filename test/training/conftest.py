"""Fixtures of the training tests: one torch thread (the test machine's 2 cores are shared; tiny convolutions
oversubscribe) and one procedural body for the whole folder."""
import pytest

from hmr_ros.smpl.body_model import load_body_model


@pytest.fixture(scope="module", autouse=True)
def one_thread(single_torch_thread):
    yield


@pytest.fixture(scope="session")
def body():
    return load_body_model("procedural")
