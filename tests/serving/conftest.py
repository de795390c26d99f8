import pytest
from fastapi.testclient import TestClient

from ganxun.serving.app import create_app
from ganxun.serving.auth import create_key
from ganxun.serving.settings import Settings
from ganxun.training.database import default_url, make_engine


def serve_live(artifacts):
    """Serve the bundle under ``artifacts`` with uvicorn on a free loopback port (a generator).

    Yields ``(base URL, org key)`` once the server has started; stops it when resumed.
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(Settings(artifacts=artifacts)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", key_for(artifacts)
    server.should_exit = True
    thread.join(timeout=10)


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
