"""Reads of a few back-office pages from PostgreSQL read replicas (docs/SCALING.md, section 5).

Installed by config/settings.py only when DATABASE_REPLICA_URLS names replicas; without them
neither the router nor the middleware is there and every query goes to `default` as ever.

The rule is "the primary unless proven safe": a read goes to a replica only while the view
of a GET or HEAD request to one of `REPLICA_PAGES` runs (its template included), outside any
transaction, before the request wrote anything, and not within `DATABASE_REPLICA_PIN_SECONDS`
of a request of the same browser that wrote. Everything else reads the primary: the
middleware's own reads before the view (the session, the user and second factor, the
membership and organisation of the tenant middleware), the portal, the API, the actions,
Celery tasks, management commands and migrations, which run outside a routed view.

Only the ORM's reads are routed: a statement run on `django.db.connection` (the compliance
overview's raw SQL) reads the primary wherever it is; one that writes pins the request as an
ORM write does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

# Pages that may show what the primary held a few seconds ago: lists and counts only, which
# a reader reloads, never a form that writes back what it shows, nor a page found by its key
# (a run the dispatcher recorded a moment ago would be a 404, which says "not yours").
REPLICA_PAGES = frozenset(
    {
        "profiles:list",
        "dossiers:list",
        "monitoring:overview",
    }
)
# Who is signed in, and how: read from the primary whoever reads them, so that a sign-in, a
# sign-out or a password change counts at once, however far a replica lags.
PRIMARY_APPS = frozenset(
    {"sessions", "auth", "otp_totp", "otp_static", "django_otp_webauthn", "axes"}
)
# Set on the response of a browser's request that wrote: its next requests (the page a form
# redirects to) read the primary until the replicas have caught up with that write.
PIN_COOKIE = "read_primary"


@dataclass
class _Routing:
    """Where the current request's reads go; one per request, in a context variable."""

    pinned: bool = False
    replica: str | None = None
    wrote: bool = False


_routing: ContextVar[_Routing | None] = ContextVar("replica_routing", default=None)


def _aliases() -> set[str]:
    return {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}


class ReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        routing = _routing.get()
        if (
            routing is None
            or routing.replica is None
            or routing.wrote
            or model._meta.app_label in PRIMARY_APPS
            # A read inside a transaction (a claim, a check before a write) reads what the
            # transaction then writes: the primary's.
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            # Named rather than left to Django, which would follow an object read from a
            # replica (the `instance` hint) back to it.
            return DEFAULT_DB_ALIAS
        return routing.replica

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        routing = _routing.get()
        if routing is not None:
            # Read your writes: the rest of the request reads the primary. Django asks this
            # for a `select_for_update` and a `get_or_create` too, which pin as well.
            routing.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # A replica holds the primary's rows: an object read from one may point at an object
        # read from the other.
        if {obj1._state.db, obj2._state.db} <= _aliases():
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # A replica follows the primary's schema through replication, never by itself.
        return False if db in settings.DATABASE_REPLICAS else None


class ReplicaMiddleware:
    """Opens each request's routing, chooses a replica for the view of a page that may read
    one, and pins the browser to the primary for a while after a write.

    Outside the session's middleware, so that it sees the session saved after the view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        routing = _Routing(pinned=PIN_COOKIE in request.COOKIES)
        token = _routing.set(routing)
        try:
            # A statement run on the connection (the items' UPDATE … FROM, the audit's and
            # the overview's raw SQL) writes unseen by the router: anything but a SELECT
            # pins the rest of the request and the browser as an ORM write does.
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(_WriteWatch(routing)):
                response = self.get_response(request)
        finally:
            _routing.reset(token)
        if routing.wrote and _is_browser(request, response):
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        # Here, after every middleware has read the session, the user and the membership
        # from the primary, and before the view.
        routing = _routing.get()
        match = request.resolver_match
        if (
            routing is None
            or routing.pinned
            or routing.wrote
            or request.method not in ("GET", "HEAD")
            or match is None
            or match.view_name not in REPLICA_PAGES
        ):
            return
        routing.replica = random.choice(settings.DATABASE_REPLICAS)


# Statements that write nothing: a transaction or savepoint a read-only block opens (SQLite
# begins its transactions by a statement), a session setting.
READS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "SET ", "SHOW ")


class _WriteWatch:
    def __init__(self, routing: _Routing) -> None:
        self.routing = routing

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not self.routing.wrote and not sql.lstrip().upper().startswith(READS):
            self.routing.wrote = True
        return execute(sql, params, many, context)


def _is_browser(request: HttpRequest, response: HttpResponse) -> bool:
    """A signed-in browser (or one signing in): the API's clients keep no cookie to pin."""
    name = settings.SESSION_COOKIE_NAME
    return name in request.COOKIES or name in response.cookies
