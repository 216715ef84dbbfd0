"""A live server on a SQLite file for the browser tests (the browser itself: tests/conftest.py)."""

from __future__ import annotations

import threading
import pytest
from werkzeug.serving import make_server

from lms_plugin.app import create_app
from lms_plugin.config import TestConfig
from lms_plugin.core.extensions import db

class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_app(tmp_path):
    """An app on a SQLite file (a browser test runs the app in a thread of its own)."""
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app(config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def live_server(live_app):
    with LiveServer(live_app) as server:
        live_app.config["PUBLIC_BASE_URL"] = server.url
        yield server


