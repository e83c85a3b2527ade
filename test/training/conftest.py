"""Fixtures of the training tests: one torch thread (the test machine's 2 cores are shared; tiny convolutions
oversubscribe). The procedural body is test/conftest.py's ``body``."""
import pytest


@pytest.fixture(scope="module", autouse=True)
def one_thread(single_torch_thread):
    yield
