"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from lms_plugin.app import create_app
from lms_plugin.core.extensions import db

from . import conftest


def test_migrations_produce_exactly_the_models_schema(app_config):
    app = create_app(app_config)
    with app.app_context():
        if conftest.PG_URL:
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            conftest._pg_ready["schema"] = False  # the next test rebuilds its tables
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"organization", "user", "certificate", "attempt", "alembic_version"} <= tables
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == [], differences
        if conftest.PG_URL:
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        db.engine.dispose()
