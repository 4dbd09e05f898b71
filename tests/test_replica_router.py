"""Read replicas for the pages (config/routers.py): with a replica configured, the reads of a
list page's view go to it, and everything else (the session and the user, writes, reads
after a write or inside a transaction, other pages, the next page after a write) to the
primary; without one, nothing is routed.

The replica here is an alias mirroring the primary's test database (tests/conftest.py), so
each alias's query log says where a read went. The tests are transactional: a mirror is a
connection of its own, which sees only what the primary committed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django_scopes import scopes_disabled

from config.routers import PIN_COOKIE, ReplicaMiddleware, ReplicaRouter
from organizations.models import Membership
from profiles.models import Profile
from tests import factories
from tests.conftest import make_member

ROOT = Path(__file__).resolve().parents[1]
REPLICA = "replica"
ALIASES = (DEFAULT_DB_ALIAS, REPLICA)

pytestmark = pytest.mark.django_db(transaction=True, databases=list(ALIASES))


def _route(settings) -> None:
    """The settings DATABASE_REPLICA_URLS leads to, with the test's mirror as the replica."""
    settings.DATABASE_REPLICAS = [REPLICA]
    settings.DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "config.routers.ReplicaMiddleware",
    )
    settings.MIDDLEWARE = middleware


@pytest.fixture
def routed(settings) -> None:
    _route(settings)


@pytest.fixture
def contacts(org) -> list[Profile]:
    return [
        factories.contact(org, first_name=name, last_name="Replica", email=f"{name}@example.com")
        for name in ("Ada", "Grace", "Edsger")
    ]


@pytest.fixture
def staff(org) -> Client:
    client = Client()
    client.force_login(make_member(org, "alice", Membership.Role.ADMIN))
    return client


class Seen:
    """The statements each alias ran."""

    sql: dict[str, list[str]]

    def reading(self, alias: str, table: str) -> list[str]:
        return [sql for sql in self.sql[alias] if sql.startswith("SELECT") and f'"{table}"' in sql]

    def writes(self, alias: str) -> list[str]:
        return [sql for sql in self.sql[alias] if sql.startswith(("INSERT", "UPDATE", "DELETE"))]


@contextmanager
def recorded() -> Iterator[Seen]:
    seen = Seen()
    with ExitStack() as stack:
        captured = {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in ALIASES
        }
        yield seen
    seen.sql = {alias: [q["sql"] for q in ctx.captured_queries] for alias, ctx in captured.items()}


def _list_url(org) -> str:
    return f"/o/{org.slug}/contacts/"


def test_a_list_page_reads_the_replica_and_its_sign_in_the_primary(routed, org, contacts, staff):
    with recorded() as seen:
        response = staff.get(_list_url(org))
    assert response.status_code == 200
    assert "Grace" in response.content.decode()
    # The view's reads, its count and page of contacts, are the replica's ...
    assert len(seen.reading(REPLICA, "profiles_profile")) >= 2
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile") == []
    # ... and who is signed in, and in which organisation, the primary's.
    for table in ("django_session", "auth_user", "organizations_membership"):
        assert seen.reading(DEFAULT_DB_ALIAS, table), table
        assert seen.reading(REPLICA, table) == [], table
    assert seen.writes(REPLICA) == []
    assert PIN_COOKIE not in response.cookies


def test_the_replica_costs_no_extra_query(settings, org, contacts, staff):
    staff.get(_list_url(org))  # what the process caches, cached
    with recorded() as alone:
        staff.get(_list_url(org))
    assert alone.sql[REPLICA] == []

    _route(settings)
    routed_client = Client()
    routed_client.cookies = staff.cookies
    with recorded() as seen:
        routed_client.get(_list_url(org))
    assert seen.sql[REPLICA]
    assert len(seen.sql[DEFAULT_DB_ALIAS]) + len(seen.sql[REPLICA]) == len(
        alone.sql[DEFAULT_DB_ALIAS]
    )


def test_a_write_and_the_page_it_redirects_to_read_the_primary(
    routed, settings, org, contacts, staff
):
    with recorded() as seen:
        response = staff.post(
            f"/o/{org.slug}/contacts/bulk/archive/",
            {"profile": [str(contacts[0].uuid)], "confirm": "yes"},
            follow=True,
        )
    assert response.redirect_chain == [(_list_url(org), 302)]
    assert seen.sql[REPLICA] == []
    assert seen.writes(DEFAULT_DB_ALIAS)
    # The list the form led back to read the primary: it shows the archive just made.
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")
    pin = staff.cookies[PIN_COOKIE]
    assert pin["max-age"] == settings.DATABASE_REPLICA_PIN_SECONDS
    assert pin["httponly"]

    # Once the pin has expired (the browser drops the cookie), the list reads the replica.
    del staff.cookies[PIN_COOKIE]
    with recorded() as seen:
        staff.get(_list_url(org))
    assert seen.reading(REPLICA, "profiles_profile")
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile") == []


def test_other_pages_and_other_methods_read_the_primary(routed, org, contacts, staff):
    with recorded() as seen:
        assert staff.get(f"/o/{org.slug}/profiles/{contacts[0].uuid}/").status_code == 200
        assert staff.post(f"/o/{org.slug}/contacts/bulk/archive/", {}).status_code == 302
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")
    assert seen.sql[REPLICA] == []
    # A refused POST wrote nothing: no pin. And HEAD is a read of the page like GET.
    assert PIN_COOKIE not in staff.cookies
    with recorded() as seen:
        assert staff.head(_list_url(org)).status_code == 200
    assert seen.reading(REPLICA, "profiles_profile")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a snapshot held open beside the writes, PostgreSQL's, stands for a replica behind",
)
def test_behind_a_lagging_replica_the_browser_that_wrote_sees_its_write(
    routed, org, contacts, staff
):
    colleague = Client()
    colleague.force_login(make_member(org, "bob", Membership.Role.STAFF))
    ada = f"/profiles/{contacts[0].uuid}/"
    with transaction.atomic(using=REPLICA):
        with connections[REPLICA].cursor() as cursor:
            # The replica stops replaying here: its reads see the rows as they are now.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute('SELECT COUNT(*) FROM "profiles_profile"')
        archived = staff.post(
            f"/o/{org.slug}/contacts/bulk/archive/",
            {"profile": [str(contacts[0].uuid)], "confirm": "yes"},
            follow=True,
        )
        # The list the form leads back to is the primary's: Ada is gone from it ...
        assert ada not in archived.content.decode()
        # ... while a colleague's list, from the replica, still shows her ...
        assert ada in colleague.get(_list_url(org)).content.decode()
        # ... and so does the browser that wrote, once its pin has expired.
        del staff.cookies[PIN_COOKIE]
        assert ada in staff.get(_list_url(org)).content.decode()
    # The replica caught up.
    assert ada not in colleague.get(_list_url(org)).content.decode()


def _through_middleware(view) -> HttpResponse:
    """`view` run as a GET of the contacts' list, as the handler runs it: the middleware's
    call around it, its process_view just before it."""
    request = RequestFactory().get("/o/acme/contacts/")
    request.resolver_match = resolve("/o/acme/contacts/")
    request.COOKIES[django_settings.SESSION_COOKIE_NAME] = "signed-in"
    middleware: ReplicaMiddleware

    def handler(request: HttpRequest) -> HttpResponse:
        middleware.process_view(request, view, (), {})
        return view(request)

    middleware = ReplicaMiddleware(handler)
    return middleware(request)


def _names() -> list[str]:
    with scopes_disabled():
        return sorted(Profile.objects.values_list("first_name", flat=True))


def test_reads_after_a_write_of_the_request_read_the_primary(routed, org, contacts):
    before: list[str] = []
    after: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        before.extend(_names())
        factories.contact(org, first_name="Barbara", email="barbara@example.com")
        after.extend(_names())
        return HttpResponse()

    with recorded() as seen:
        response = _through_middleware(view)
    assert "Barbara" not in before
    assert "Barbara" in after
    assert len(seen.reading(REPLICA, "profiles_profile")) == 1
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")
    assert seen.writes(REPLICA) == []
    assert seen.writes(DEFAULT_DB_ALIAS)
    assert response.cookies[PIN_COOKIE]["max-age"] == django_settings.DATABASE_REPLICA_PIN_SECONDS


def test_a_write_in_raw_sql_pins_as_an_orm_write_does(routed, org, contacts):
    after: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE profiles_profile SET first_name = %s WHERE id = %s",
                ["Barbara", contacts[0].pk],
            )
        after.extend(_names())
        return HttpResponse()

    with recorded() as seen:
        response = _through_middleware(view)
    assert "Barbara" in after
    assert seen.reading(REPLICA, "profiles_profile") == []
    assert response.cookies[PIN_COOKIE]["max-age"] == django_settings.DATABASE_REPLICA_PIN_SECONDS


def test_the_layouts_review_count_is_the_primarys(routed, org, contacts, staff):
    # Kept under the version the memberships' query read from the primary: a lagging
    # replica's count would be kept under a version newer than what it saw.
    with recorded() as seen:
        assert staff.get(_list_url(org)).status_code == 200
    assert seen.reading(REPLICA, "dossiers_dossier") == []


def test_reads_inside_a_transaction_read_the_primary(routed, org, contacts):
    def view(request: HttpRequest) -> HttpResponse:
        with transaction.atomic():
            _names()
        _names()
        return HttpResponse()

    with recorded() as seen:
        response = _through_middleware(view)
    assert len(seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")) == 1
    assert len(seen.reading(REPLICA, "profiles_profile")) == 1
    # Nothing was written: no pin.
    assert PIN_COOKIE not in response.cookies


def test_a_pinned_browser_reads_the_primary(routed, org, contacts, staff):
    staff.cookies[PIN_COOKIE] = "1"
    with recorded() as seen:
        staff.get(_list_url(org))
    assert seen.sql[REPLICA] == []
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")


def test_outside_a_request_everything_is_the_primarys(routed, org, contacts):
    """Tasks, commands and migrations run outside a routed view."""
    router = ReplicaRouter()
    with recorded() as seen:
        assert _names() == ["Ada", "Edsger", "Grace"]
    assert seen.sql[REPLICA] == []
    assert router.db_for_read(Profile) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "profiles") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "profiles") is None
    # An object read from a replica may be linked to one read from the primary.
    with scopes_disabled():
        on_replica = Profile.objects.using(REPLICA).get(pk=contacts[0].pk)
        on_primary = Profile.objects.get(pk=contacts[1].pk)
    assert router.allow_relation(on_replica, on_primary) is True


def test_without_a_replica_nothing_is_routed(org, contacts, staff):
    assert django_settings.DATABASE_ROUTERS == []
    assert "config.routers.ReplicaMiddleware" not in django_settings.MIDDLEWARE
    with recorded() as seen:
        staff.get(_list_url(org))
    assert seen.sql[REPLICA] == []
    assert seen.reading(DEFAULT_DB_ALIAS, "profiles_profile")


SHOW_SETTINGS = """
import json
import config.settings as s
print(json.dumps({
    "databases": {alias: db.get("TEST", {}) for alias, db in s.DATABASES.items()},
    "replicas": s.DATABASE_REPLICAS,
    "routers": getattr(s, "DATABASE_ROUTERS", []),
    "middleware": s.MIDDLEWARE,
}))
"""


def _settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URLS"}
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(databases=[])
def test_the_setting_adds_each_replica_mirrored_in_tests_and_the_router():
    replicas = "postgres://reader@replica-a:5432/app, postgres://reader@replica-b:5432/app"
    result = _settings_with(
        DATABASE_URL="postgres://writer@primary:5432/app", DATABASE_REPLICA_URLS=replicas
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["replicas"] == ["replica_1", "replica_2"]
    assert shown["databases"]["replica_1"] == {"MIRROR": "default"}
    assert shown["routers"] == ["config.routers.ReplicaRouter"]
    middleware = shown["middleware"]
    assert middleware.index("config.routers.ReplicaMiddleware") < middleware.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )

    result = _settings_with(DATABASE_URL="postgres://writer@primary:5432/app")
    shown = json.loads(result.stdout)
    assert list(shown["databases"]) == ["default"]
    assert (shown["replicas"], shown["routers"]) == ([], [])
    assert "config.routers.ReplicaMiddleware" not in shown["middleware"]

    result = _settings_with(DATABASE_URL="sqlite:///x.sqlite3", DATABASE_REPLICA_URLS=replicas)
    assert result.returncode != 0
    assert "not the same kind of database" in result.stderr
