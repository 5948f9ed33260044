import pytest

from tests.e2e.stack import Stack


@pytest.fixture(scope="session")
def stack(trained_model, tmp_path_factory):
    """One running stack shared by the HTTP tests (starting Rasa takes a minute)."""
    running = Stack(trained_model, tmp_path_factory.mktemp("stack")).start()
    try:
        yield running
    finally:
        running.stop()
