"""Both databases the stores support: a SQLite file and a real PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL (`scripts/services.sh` starts it and creates the
role and database). Each test gets a schema of its own, dropped afterwards. An
unreachable PostgreSQL fails the test: CI must test the real database, not skip it.
"""
import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

PG_URL = os.environ.get("TEST_DATABASE_URL",
                        "postgresql://shouhou:shouhou@localhost:5432/shouhou_test")


def postgres_schema_url(schema: str) -> str:
    # libpq `options` sets the search path per connection, so the store under test uses
    # the schema without knowing about it.
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
        return
    admin = create_engine(PG_URL, future=True)
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)} "
                    f"is not reachable ({error.orig}). Run `bash scripts/services.sh` first "
                    "(make test does), or set TEST_DATABASE_URL.", pytrace=False)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
