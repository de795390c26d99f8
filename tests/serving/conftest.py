import pytest
from fastapi.testclient import TestClient

from ganxun.serving.app import create_app
from ganxun.serving.auth import create_key
from ganxun.serving.settings import Settings
from ganxun.training.database import default_url, make_engine


def key_for(artifacts, role="org", scope=None):
    """Create an API key in the artifacts folder's store."""
    return create_key(make_engine(default_url(artifacts)), role, scope)


@pytest.fixture(scope="session")
def open_client():
    """Factory: a started TestClient with an org key (closed at session end)."""
    opened = []

    def make(artifacts, role="org", scope=None, **settings):
        client = TestClient(create_app(Settings(artifacts=artifacts, **settings)))
        client.__enter__()
        client.headers["X-API-Key"] = key_for(artifacts, role, scope)
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)
