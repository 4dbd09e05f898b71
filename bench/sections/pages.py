"""Section 3, pages under load: gunicorn and wrk, each page beside the ceiling."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BENCH_SECRET_KEY, ROOT, analyze, truncate


def seed_pages(
    org_id: int,
    n: int,
    classic_field: int,
    group_id: int,
    run_id: int,
    monitored: list[int],
) -> None:
    """n contacts, each with a classic dossier of one field (one in ten waiting for review);
    one value of the first monitored field each (a third expired, a third expiring); and the
    run's update dossier of every contact, its items prefilled, its invitation sent.

    One INSERT … SELECT per table, as the product's fan-out writes them, without its
    chunks, signals and commits.
    """
    from django.db import connection, transaction

    from dossiers.messages import INVITATION

    now = dt.datetime.now(dt.UTC)
    expires = now + dt.timedelta(days=31)
    today = dt.date.today()
    period = dt.date(2024, 1, 31)
    statements: list[tuple[str, list[Any]]] = [
        (
            """
            INSERT INTO profiles_profile (uuid, kind, first_name, last_name, email, phone,
                language, is_representative, name, registration_number, address, created_at,
                updated_at, organization_id)
            SELECT gen_random_uuid(), 'contact', '', 'C' || i, 'c' || i || '@x.org', '', 'fr',
                false, '', '', '', %s, %s, %s
            FROM generate_series(0, %s - 1) i
            """,
            [now, now, org_id, n],
        ),
        (
            """
            INSERT INTO dossiers_dossier (uuid, kind, status, title, message, created_at,
                expires_at, submitted_at, organization_id, profile_id)
            SELECT gen_random_uuid(), 'classic',
                CASE WHEN p.id %% 10 = 0 THEN 'to_review' ELSE 'open' END, 'Review', '', %s,
                %s, CASE WHEN p.id %% 10 = 0 THEN %s::timestamptz END, p.organization_id, p.id
            FROM profiles_profile p
            WHERE p.organization_id = %s AND p.last_name LIKE 'C%%'
            ORDER BY p.id
            """,
            [now, expires, now, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossieritem (organization_id, dossier_id, field_id, position,
                answered, confirmed, review, rejection_reason, upload, upload_name,
                upload_content_type)
            SELECT d.organization_id, d.id, %s, 0, false, false, '', '', '', '', ''
            FROM dossiers_dossier d
            WHERE d.organization_id = %s AND d.kind = 'classic'
            """,
            [classic_field, org_id],
        ),
        (
            """
            INSERT INTO profiles_fieldvalue (organization_id, profile_id, field_id, value,
                expires_on, updated_at)
            SELECT p.organization_id, p.id, %s, '"checked"',
                %s::date + (ARRAY[-10, 10, 400])[p.id %% 3 + 1], %s
            FROM profiles_profile p
            WHERE p.organization_id = %s
            """,
            [monitored[0], today, now, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossier (uuid, kind, status, title, message, created_at,
                expires_at, period, update_group_id, organization_id, profile_id)
            SELECT gen_random_uuid(), 'update', 'open', 'KYC', '', %s, %s, %s, %s,
                p.organization_id, p.id
            FROM profiles_profile p
            WHERE p.organization_id = %s AND p.kind = 'contact'
            ORDER BY p.id
            """,
            [now, expires, period, group_id, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossieritem (organization_id, dossier_id, field_id, position,
                initial_value, answered, confirmed, review, rejection_reason, upload,
                upload_name, upload_content_type)
            SELECT d.organization_id, d.id, f.id, f.position - 500, v.value, false, false, '',
                '', '', '', ''
            FROM dossiers_dossier d
            CROSS JOIN profiles_datafield f
            JOIN monitoring_groupfield g ON g.field_id = f.id
            LEFT JOIN profiles_fieldvalue v ON v.profile_id = d.profile_id AND v.field_id = f.id
            WHERE d.update_group_id = %s AND d.period = %s AND g.group_id = %s
            """,
            [group_id, period, group_id],
        ),
        (
            """
            INSERT INTO outbox_message (organization_id, key, status, attempts,
                next_attempt_at, last_error, created_at, done_at, kind, address, language)
            SELECT d.organization_id, %s || ':' || d.id || ':' || p.id, 'sent', 1, %s, '',
                %s, %s, %s, p.email, p.language
            FROM dossiers_dossier d
            JOIN profiles_profile p ON p.id = d.profile_id
            WHERE d.organization_id = %s
            """,
            [INVITATION, now, now, now, INVITATION, org_id],
        ),
        (
            # Each invitation's link to its dossier (the outbox names no dossier).
            """
            INSERT INTO dossiers_dossiermessage (message_id, dossier_id, profile_id)
            SELECT m.id, d.id, d.profile_id
            FROM dossiers_dossier d
            JOIN outbox_message m ON m.key = %s || ':' || d.id || ':' || d.profile_id
            WHERE d.organization_id = %s
            """,
            [INVITATION, org_id],
        ),
        (
            """
            UPDATE monitoring_updaterun SET finished_at = %s,
                dossiers_opened = (SELECT count(*) FROM dossiers_dossier
                    WHERE update_group_id = %s AND period = %s)
            WHERE id = %s
            """,
            [now, group_id, period, run_id],
        ),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # The foreign keys are deferred: checked row by row at COMMIT they took two minutes
        # for rows each statement takes from the tables they point to. A benchmark-only
        # shortcut (it needs a superuser): the rows are consistent by construction.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)


def build_pages(
    n_fields: int, n_history: int, n_dossiers: int, portal_fields: int, n_tokens: int
) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from api.models import ApiKey
    from dossiers.models import AccessToken, Dossier
    from dossiers.opening import open_dossiers
    from monitoring.models import GroupField, UpdateGroup, UpdateRun
    from organizations.models import Membership, Organization
    from profiles.models import DataField, FieldValue, FieldValueHistory, Kind, Profile

    truncate("profiles_profile", "organizations_organization", "auth_user", "django_session")
    org = Organization.objects.create(name="Load", slug="load")
    user = get_user_model().objects.create_user("bench")
    Membership.objects.create(organization=org, user=user, role="admin")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Field {i}",
            type="text",
            position=i,
            section=f"Section {i // 25}",
        )
        for i in range(n_fields)
    )
    profile = Profile.objects.create(
        organization=org, kind=Kind.CONTACT, last_name="Heavy", email="heavy@x.org"
    )
    FieldValue.objects.bulk_create(
        FieldValue(organization=org, profile=profile, field=f, value=f"value {f.position}")
        for f in fields
    )
    FieldValueHistory.objects.bulk_create(
        (
            FieldValueHistory(
                organization=org,
                profile=profile,
                field=f,
                old_value=f"v{k}",
                new_value=f"v{k + 1}",
                source="staff",
            )
            for f in fields
            for k in range(n_history)
        ),
        batch_size=5000,
    )
    # The contacts, their classic dossiers, the run and the overview's values are written by
    # set-based SQL (seed_pages): at 100,000 of each, the product's own fan-out would spend
    # minutes building what the pages only read.
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to=Kind.CONTACT,
        start_date=dt.date(2024, 1, 31),
        interval_count=3,
        interval_unit="months",
    )
    group.schedule_from()
    group.save()
    monitored = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Monitored {i}",
            type="text",
            position=500 + i,
        )
        for i in range(10)
    )
    GroupField.objects.bulk_create(
        GroupField(field=f, group=group, organization=org, applies_to=Kind.CONTACT)
        for f in monitored
    )
    run = UpdateRun.objects.create(
        organization=org,
        group=group,
        period=dt.date(2024, 1, 31),
        index=0,
        due_at=dt.datetime(2024, 1, 31, 7, tzinfo=dt.UTC),
    )
    seed_pages(org.pk, n_dossiers, fields[0].pk, group.pk, run.pk, [f.pk for f in monitored])
    # Statistics before anything else is planned on these tables, as autovacuum would take
    # them after such inserts: the submitters' dossiers below refresh their overview cells.
    analyze()
    _key, api_key = ApiKey.issue(org, name="Bench", access="read")
    documents = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Doc {i}",
            type="document",
            position=1000 + i,
            max_size_mb=5,
        )
        for i in range(2)
    )
    asked = fields[:portal_fields] + documents
    submitters = Profile.objects.bulk_create(
        Profile(
            organization=org,
            kind=Kind.CONTACT,
            last_name=f"S{i}",
            email=f"s{i}@x.org",
            language="en",
        )
        for i in range(n_tokens)
    )
    ids = open_dossiers(org, [p.pk for p in submitters], asked, kind="classic", title="Submit")
    tokens = [
        AccessToken.issue(d, d.profile)
        for d in Dossier.objects.filter(pk__in=ids).select_related("profile")
    ]
    from monitoring import overview

    # Values and fields were written past the product's paths: the overview's cells are
    # computed once, as the migration that introduced them does.
    analyze()
    overview.refresh(org.pk)
    analyze(vacuum=True)
    return {
        "session": session.session_key,
        "api_key": api_key,
        "group": group.uuid,
        "run_pages": -(-Dossier.objects.filter(update_group=group).count() // 50),
        "profile": profile.uuid,
        "tokens": tokens,
        "asked": asked,
        "submit_ids": ids,
        "profile_fields": len(fields) + len(monitored) + len(documents),
        "dossier_count": Dossier.objects.filter(organization=org).count(),
    }


LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("REPORT %d %d %d %d\\n", summary.requests,
    latency:percentile(50), latency:percentile(95), summary.errors.status))
end
"""


LUA_SUBMIT = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local file = io.open(os.getenv("BENCH_BODY"), "rb")
local body = file:read("*a")
file:close()
local counter = 0
local threads = 0
-- Each of wrk's threads takes every other token, so no two requests share a dossier.
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=BENCHBOUNDARY"
wrk.headers["Cookie"] = "csrftoken=" .. os.getenv("BENCH_CSRF")
local floor = os.getenv("BENCH_FLOOR")
request = function()
  counter = counter + 1
  if floor then return wrk.format(nil, floor) end
  return wrk.format(nil, "/d/" .. tokens[((counter * 2 + id) % #tokens) + 1] .. "/")
end
"""


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> bytes:
    parts = [
        f'--BENCHBOUNDARY\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields
    ]
    parts += [
        f'--BENCHBOUNDARY\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="doc.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + content
        + b"\r\n"
        for name, content in files
    ]
    return b"".join([*parts, b"--BENCHBOUNDARY--\r\n"])


def run_wrk(
    url: str, seconds: int, script: Path, headers: dict[str, str], env: dict[str, str] | None = None
) -> dict[str, float]:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script)]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    output = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    rate = float(
        next(line for line in output.splitlines() if line.startswith("Requests/sec")).split()[-1]
    )
    report = next(line for line in output.splitlines() if line.startswith("REPORT")).split()
    return {
        "rate": rate,
        "requests": int(report[1]),
        "p50": int(report[2]) / 1000,
        "p95": int(report[3]) / 1000,
        "status_errors": int(report[4]),
    }


def in_process_queries(
    method: str, path: str, data: Any = None, headers: dict[str, str] | None = None
) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    headers = dict(headers or {})
    client = Client()
    if cookie := headers.pop("Cookie", ""):
        client.cookies["sessionid"] = cookie.removeprefix("sessionid=")
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, data, headers=headers)
    assert response.status_code in {200, 302}, (path, response.status_code)
    return len(queries)


def cancel_other_queries() -> None:
    """Stops what killed workers left running in the database, before the next section."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def megabyte_pdf() -> bytes:
    """A one-page PDF of about 1 MB that passes the upload check (profiles.uploads)."""
    import io

    from pypdf import PdfWriter

    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Padding": "0" * (1024 * 1024)})
    writer.write(out)
    return out.getvalue()


def portal_form(text: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The submit's body as the test client posts it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    form: dict[str, Any] = dict(text)
    for name, content in files:
        form[name] = SimpleUploadedFile("doc.pdf", content, "application/pdf")
    form["action"] = "submit"
    return form


BARE_PATH = "/bare/"
CEILING = "/o/load/bench-ceiling/"
CEILING_WITHOUT_MENU = "/o/load/bench-ceiling/no-menu/"


def serve(application: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            application,
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "3",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


def wait_until_up(url: str, headers: dict[str, str]) -> None:
    command = ["curl", "-sf", *(f"-H{key}: {value}" for key, value in headers.items()), url]
    for _ in range(150):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(command, check=True, capture_output=True)
            return
        time.sleep(0.2)


def bare_queries(session: str, env: dict[str, str]) -> int:
    """The bare page's queries, counted in a process of its own settings."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.bare.queries", session],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(output.split()[-1])


# Each of our middleware, as the breakdown of the ceiling names it. Sessions and
# authentication are left out: the bare project has them too.
OUR_MIDDLEWARE = [
    ("organizations.middleware.TenantMiddleware", "tenancy (and the layout's menus it enables)"),
    ("django_otp.middleware.OTPMiddleware", "OTP"),
    ("csp.middleware.CSPMiddleware", "CSP"),
    ("axes.middleware.AxesMiddleware", "axes"),
    ("django_htmx.middleware.HtmxMiddleware", "htmx"),
    ("django.middleware.locale.LocaleMiddleware", "locale"),
    ("django.middleware.csrf.CsrfViewMiddleware", "CSRF"),
    ("django.contrib.messages.middleware.MessageMiddleware", "messages"),
    ("config.requestid.RequestIdMiddleware", "request id"),
    ("operations.metrics.RequestLatencyMiddleware", "latency histogram"),
    ("django.middleware.security.SecurityMiddleware", "Django's security headers"),
    ("whitenoise.middleware.WhiteNoiseMiddleware", "WhiteNoise"),
    ("django.middleware.common.CommonMiddleware", "common"),
    ("organizations.security.SecurityHeadersMiddleware", "our security headers"),
    ("organizations.security.RequestBodyLimitMiddleware", "body limit"),
    ("django.middleware.clickjacking.XFrameOptionsMiddleware", "X-Frame-Options"),
    ("profiles.middleware.StorageUnavailableMiddleware", "storage errors"),
]
BARE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def ceiling_breakdown(session: str, rounds: int) -> dict[str, Any]:
    """What each part of the ceiling costs, in process: the ceiling served through Django's
    test client with each of our middleware removed in turn (and with the tenant's scope
    not opened, and without the main menu), the variants interleaved round after round so
    that the machine's load weighs on all alike. A part's cost is the median, over the
    rounds, of the ceiling's time minus the variant's in the same round."""
    import statistics
    from collections.abc import Callable
    from unittest import mock

    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings
    from django_scopes import scopes_disabled

    full = list(settings.MIDDLEWARE)
    no_scope: Callable[[], Any] = lambda: mock.patch(  # noqa: E731
        "organizations.middleware.scope", lambda **kwargs: scopes_disabled()
    )
    variants: dict[str, tuple[str, list[str], Callable[[], Any] | None]] = {
        "ceiling": (CEILING, full, None),
        **{path: (CEILING, [m for m in full if m != path], None) for path, _ in OUR_MIDDLEWARE},
        "scope": (CEILING, full, no_scope),
        "menu": (CEILING_WITHOUT_MENU, full, None),
        "all": (CEILING, [m for m in full if m in BARE_MIDDLEWARE], None),
    }
    clients = {}
    for key, (_path, middleware, _patch) in variants.items():
        client = Client()
        client.cookies["sessionid"] = session
        with override_settings(MIDDLEWARE=middleware):
            client.handler.load_middleware()
        clients[key] = client
    keys = list(variants)
    times: dict[str, list[float]] = {key: [] for key in keys}
    warm = 3
    order = random.Random(0)
    for round_ in range(warm + rounds):
        # Each round in another order, so that no variant always follows the same one.
        order.shuffle(keys)
        for key in keys:
            path, _middleware, patch = variants[key]
            # As wrk sends it: the session's cookie alone, never the CSRF cookie of a reply.
            clients[key].cookies.clear()
            clients[key].cookies["sessionid"] = session
            with patch() if patch else contextlib.nullcontext():
                start = time.process_time()
                response = clients[key].get(path)
                elapsed = time.process_time() - start
            assert response.status_code == 200, (key, response.status_code)
            if round_ >= warm:
                times[key].append(elapsed)
    ceiling = times["ceiling"]

    def saved(key: str) -> float:
        return statistics.median(c - v for c, v in zip(ceiling, times[key], strict=True)) * 1000

    labels = dict(OUR_MIDDLEWARE)
    return {
        "rounds": rounds,
        "ceiling_ms": statistics.median(ceiling) * 1000,
        "rows": [{"label": labels[path], "ms": saved(path)} for path, _ in OUR_MIDDLEWARE]
        + [
            {"label": "the tenant's scope alone (django-scopes)", "ms": saved("scope")},
            {"label": "the main menu (its links and the count to review)", "ms": saved("menu")},
        ],
        "all_ms": saved("all"),
    }


def bench_pages(seconds: int, small: bool, media: Path) -> dict[str, Any]:
    from dossiers.models import Dossier

    data = build_pages(*((10, 2, 200, 5, 300) if small else (100, 20, 100000, 20, 2000)))
    port = int(os.environ.get("BENCH_PORT", "8765"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(media),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # The key's rate limit would answer most of wrk's requests with 429.
        "API_RATE_LIMIT": "100000000/min",
    }
    static = Path(tempfile.mkdtemp(prefix="bench-static-"))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "STATIC_ROOT": str(static)},
        check=True,
    )
    server = serve("config.wsgi:application", port, env)
    # The bare project on the same database, signed in with the same session (bench/bare/).
    bare_server = serve(
        "bench.bare.wsgi:application",
        port + 1,
        {**env, "DJANGO_SETTINGS_MODULE": "bench.bare.settings"},
    )
    base = f"http://127.0.0.1:{port}"
    bare_base = f"http://127.0.0.1:{port + 1}"
    cookie = {"Cookie": f"sessionid={data['session']}"}
    work = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    (work / "report.lua").write_text(LUA_REPORT)
    (work / "submit.lua").write_text(LUA_SUBMIT + LUA_REPORT)
    csrf = "b" * 32
    text = [(f"f_{f.uuid.hex}", "new value") for f in data["asked"] if not f.is_document]
    files = [(f"f_{f.uuid.hex}", megabyte_pdf()) for f in data["asked"] if f.is_document]
    (work / "body").write_bytes(
        multipart([("csrfmiddlewaretoken", csrf), ("action", "submit"), *text], files)
    )
    # The server takes the first dossiers; the in-process count takes the last one.
    (work / "tokens").write_text("\n".join(data["tokens"][:-1]))
    n_dossiers = 200 if small else 100000
    results: dict[str, Any] = {
        "seconds": seconds,
        "profiles": n_dossiers + 1,
        "run_size": Dossier.objects.filter(update_group__uuid=data["group"]).count(),
        "profile_fields": data["profile_fields"],
        "history": 2 if small else 20,
        "history_fields": 10 if small else 100,
        "dossier_count": data["dossier_count"],
        "submitters": len(data["tokens"]),
    }
    try:
        wait_until_up(base + "/healthz", {})
        wait_until_up(bare_base + BARE_PATH, cookie)
        run_path = f"/o/load/monitoring/groups/{data['group']}/runs/2024-01-31/"
        api = {"Authorization": f"Bearer {data['api_key']}"}
        pages = [
            ("trivial", "/healthz", {}),
            ("ceiling", CEILING, cookie),
            ("home", "/o/load/", cookie),
            ("profile", f"/o/load/profiles/{data['profile']}/", cookie),
            ("dossiers", "/o/load/dossiers/", cookie),
            ("run", run_path, cookie),
            ("run_last", f"{run_path}?page={data['run_pages']}", cookie),
            ("review", "/o/load/dossiers/to-review/", cookie),
            ("settings", "/o/load/settings/", cookie),
            ("api", "/api/v1/profiles/?page_size=100", api),
        ]

        def measure(key: str, path: str, headers: dict[str, str]) -> None:
            # A second unmeasured: each worker compiles the page's templates on first use.
            run_wrk(base + path, 1, work / "report.lua", headers)
            results[key] = run_wrk(base + path, seconds, work / "report.lua", headers)
            results[key]["queries"] = in_process_queries("get", path, headers=headers)
            # A page answering 404 or a redirect to the login would measure nothing.
            assert results[key]["status_errors"] == 0, (key, path, results[key])
            print(f"  {key}: {results[key]['rate']:,.0f} requests/s", flush=True)

        for key, path, headers in pages:
            measure(key, path, headers)
            if key == "ceiling":
                # Beside the ceiling, so that the machine's load weighs on both alike.
                run_wrk(bare_base + BARE_PATH, 1, work / "report.lua", cookie)
                results["bare"] = run_wrk(
                    bare_base + BARE_PATH, seconds, work / "report.lua", cookie
                )
                assert results["bare"]["status_errors"] == 0, results["bare"]
                results["bare"]["queries"] = bare_queries(data["session"], env)
                print(f"  bare Django: {results['bare']['rate']:,.0f} requests/s", flush=True)
        submit_env = {
            "BENCH_TOKENS": str(work / "tokens"),
            "BENCH_BODY": str(work / "body"),
            "BENCH_CSRF": csrf,
        }
        # The floor of a submit: the same body through the same middleware, parsed and its
        # files written to storage, nothing else (bench/urls.py).
        floor_env = {**submit_env, "BENCH_FLOOR": "/d/bench/submit-floor/"}
        run_wrk(base + "/d/bench/submit-floor/", 1, work / "submit.lua", {}, floor_env)
        results["submit_floor"] = run_wrk(
            base + "/d/bench/submit-floor/", seconds, work / "submit.lua", {}, floor_env
        )
        assert results["submit_floor"]["status_errors"] == 0, results["submit_floor"]
        results["submit_floor"]["queries"] = in_process_queries(
            "post", "/d/bench/submit-floor/", data=portal_form(text, files)
        )
        print(f"  submit floor: {results['submit_floor']['rate']:,.0f} requests/s", flush=True)
        results["submit"] = run_wrk(base + "/d/", seconds, work / "submit.lua", {}, submit_env)
        results["submit"]["submitted"] = Dossier.objects.filter(
            pk__in=data["submit_ids"], status="submitted"
        ).count()
        results["submit"]["queries"] = in_process_queries(
            "post", f"/d/{data['tokens'][-1]}/", data=portal_form(text, files)
        )
        # Last: where a request outlasts gunicorn's timeout, its worker is killed but its
        # queries run on in PostgreSQL and would slow whatever came after.
        measure("overview", "/o/load/monitoring/overview/", cookie)
    finally:
        for running in (server, bare_server):
            running.terminate()
            running.wait(timeout=60)
        cancel_other_queries()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(static, ignore_errors=True)
    results["middleware"] = ceiling_breakdown(data["session"], 10 if small else 150)
    return results


PAGE_ROWS = [
    ("trivial", "`/healthz` (no session, no database, no template)"),
    ("ceiling", "**ceiling**: the base layout, signed in (bench/urls.py)"),
    ("bare", "**bare Django**: sessions, authentication, one template, signed in (bench/bare/)"),
    ("home", "home: what needs attention, runs in progress, coming requests"),
    ("profile", "profile page"),
    ("dossiers", "dossier list, first page"),
    ("run", "a run's follow-up, first page of its outstanding list"),
    ("run_last", "the same outstanding list, last page"),
    ("overview", "compliance overview, first page with its counts"),
    ("review", "review queue"),
    ("settings", "organisation settings, one member"),
    ("api", "API `/api/v1/profiles/`, 100 a page"),
    ("submit_floor", "**submit floor**: the same body parsed, its files written (bench/urls.py)"),
    ("submit", "portal submit (20 fields, 2 documents of 1 MB)"),
]


# Each row's peer: the submit is measured against its floor, every page against the ceiling.
PEERS = {"submit": "submit_floor", "submit_floor": "submit_floor"}
# Rows that are measures to compare with, not pages of the product.
REFERENCES = {"trivial", "ceiling", "bare", "submit_floor"}


def peer_ratio(pages: dict, key: str) -> float:
    return pages[key]["rate"] / pages[PEERS.get(key, "ceiling")]["rate"]


def render_pages(pages: dict) -> list[str]:
    lines = [
        "## 3. Pages under load",
        "",
        "gunicorn (3 sync workers) on loopback, wrk with 16 connections for"
        f" {pages['seconds']} s a page, on the same 2 cores as PostgreSQL. The organisation"
        f" holds {pages['profiles']:,} contacts, each with a classic dossier (one in ten"
        f" waiting for review) and an update dossier of a run of {pages['run_size']:,} for a"
        " group of 10 monitored fields, so the dossier list pages through"
        f" {pages['dossier_count']:,} dossiers and the overview covers {pages['run_size']:,}"
        f" profiles by 10 fields; {pages['submitters']:,} more contacts each hold a dossier"
        " for the portal submit. The profile page shows one contact's"
        f" {pages['profile_fields']} fields, {pages['history_fields']} of them with"
        f" {pages['history']} history records each. These rows are written by set-based SQL"
        " (`bench.sections.pages.seed_pages`), then vacuumed and analysed as autovacuum would. The"
        " ceiling is a page of the same server that does what every back-office page does"
        " before its own work (session, user, membership, the base layout with its menus) and"
        " nothing else; bare Django is a project of its own (bench/bare/: sessions and"
        " authentication, no other middleware, one small template) served by the same gunicorn"
        " on the same database, signed in with the same session. The submit floor takes the"
        " submit's multipart body through the same"
        " middleware and writes its two files to storage, and nothing else. The API is"
        " called with an organisation key. Queries are counted in process for one request.",
        "",
        "| page | requests/s | ÷ ceiling, submit ÷ floor (target ≥ 0.5) | median |"
        " 95th percentile | queries |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in PAGE_ROWS:
        if key not in pages:  # figures saved before the row existed
            continue
        row = pages[key]
        lines.append(
            f"| {label} | {row['rate']:,.0f} | {peer_ratio(pages, key):.2f} |"
            f" {row['p50']:.1f} ms | {row['p95']:.1f} ms | {row['queries']} |"
        )
    lines += [
        "",
        f"wrk counted {pages['submit']['requests']:,} submit responses and"
        f" {pages['submit']['submitted']:,} dossiers ended submitted (a request still in"
        " flight when wrk stops is served, but not counted).",
        "",
    ]
    if breakdown := pages.get("middleware"):
        lines += render_breakdown(pages, breakdown)
    return lines


def render_breakdown(pages: dict, breakdown: dict) -> list[str]:
    ceiling = breakdown["ceiling_ms"]
    lines = [
        f"The ceiling serves {pages['ceiling']['rate'] / pages['bare']['rate']:.2f} of bare"
        " Django's rate (target ≥ 0.5). Where its time goes, in process"
        " (`bench.sections.pages.ceiling_breakdown`): the ceiling through Django's test"
        " client, then with each of our middleware removed in turn, the tenant's scope not"
        " opened, the layout without its main menu, and only sessions and authentication"
        f" left; {breakdown['rounds']} rounds, each serving every variant once in a shuffled"
        " order, each request timed in the CPU time of this process (the database's own"
        " work is not in it). A"
        " row is the median over the rounds of what the ceiling took beyond the variant in"
        f" the same round; the ceiling took {ceiling:.2f} ms of CPU a request. Rows"
        " within a few hundredths of a millisecond of zero are the noise of the machine.",
        "",
        "| removed from the ceiling | ms a request | share of the ceiling |",
        "| --- | ---: | ---: |",
    ]
    for row in breakdown["rows"]:
        lines.append(f"| {row['label']} | {row['ms']:.2f} | {row['ms'] / ceiling:.0%} |")
    lines += [
        f"| all of the above: sessions and authentication left | {breakdown['all_ms']:.2f} |"
        f" {breakdown['all_ms'] / ceiling:.0%} |",
        "",
    ]
    return lines
