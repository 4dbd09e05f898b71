"""Ten years of history: the pages that read the value history and the audit log, and a
person's export, at a small log and at ten years of a large organisation's.

One organisation holds the rows (100 others around it hold a few each); one person in it has
the same history and entries at every size (40 fields changed 50 times, 600 entries about
them), so that what grows is the table around them. The rows are written by set-based SQL
(`generate_series`), the tables' own indexes dropped while they fill and built again after,
as a restore would. Each page is asked through Django's test client, in process: the median
of several requests, its queries counted.

Section 11 of the report; `python -m bench --section history` runs it alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.common import analyze, measured, median, truncate

FIELDS = 40
CHANGES = 50  # per field, of the person measured: 2,000 rows of history
SUBJECT_ENTRIES = 500  # entries about the person
CLIENT_ENTRIES = 100  # entries they made as a client
OTHER_ORGS = 100
MEMBERS = 5
START = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
SPAN_SECONDS = 10 * 365 * 86400
# Between two changes of the person's values: their 2,000 rows span the ten years.
STEP = SPAN_SECONDS // (FIELDS * CHANGES)

# (key, label) of each row of the table, in its order.
PAGES = [
    ("profile", "Profile page"),
    ("field_history", "A field's history (first page)"),
    ("history", "A profile's history, all fields (first page)"),
    ("audit", "Audit log, first page"),
    ("audit_older", "Audit log, a page five years back (Older link)"),
    ("audit_actor", "Audit log filtered by who (a member)"),
    ("audit_action", "Audit log filtered by action"),
    ("audit_dates", "Audit log filtered by a month's dates"),
    ("export", "GDPR export of the person (zip)"),
]


def _indexes(cursor: Any, table: str) -> list[tuple[str, str]]:
    """The table's indexes that back no constraint: (name, definition)."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = %s AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass
        )
        """,
        [table],
    )
    return list(cursor.fetchall())


def _fill(statements: list[tuple[str, list[Any]]], tables: list[str]) -> None:
    """Runs the INSERTs with the tables' own indexes dropped, then builds them again: one
    sorted build each instead of ten million random inserts into each."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # The rows are consistent by construction: no foreign key checked row by row (a
        # benchmark-only shortcut, which needs a superuser).
        cursor.execute("SET LOCAL session_replication_role = replica")
        dropped = [index for table in tables for index in _indexes(cursor, table)]
        for name, _definition in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in dropped:
            cursor.execute(definition)


def _moment(column: str) -> str:
    # Spread over ten years, in no order of the ids, as rows of many people interleave.
    spread = f"({column}::bigint * 2654435761) %% {SPAN_SECONDS}"
    return f"%s::timestamptz + ({spread}) * interval '1 second'"


def build_people(small: bool) -> dict[str, Any]:
    """The organisation, its members and fields, the person measured with their history and
    entries, its other profiles, and the 100 organisations around it with a few rows each."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from organizations.audit import known_actions
    from organizations.models import AuditChain, Membership, Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    truncate(
        "profiles_fieldvaluehistory",
        "organizations_auditsubject",
        "organizations_auditentry",
        "profiles_profile",
        "organizations_organization",
        "auth_user",
    )
    org = Organization.objects.create(name="Ten years", slug="ten-years")
    users = [get_user_model().objects.create_user(f"member{i}") for i in range(MEMBERS)]
    Membership.objects.bulk_create(
        Membership(organization=org, user=u, role="admin" if i == 0 else "staff")
        for i, u in enumerate(users)
    )
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Field {i}",
            type="text",
            position=i,
            section=f"Section {i // 10}",
        )
        for i in range(FIELDS)
    )
    person = Profile.objects.create(
        organization=org, kind=Kind.CONTACT, last_name="Tenyears", email="ten@x.org"
    )
    FieldValue.objects.bulk_create(
        FieldValue(organization=org, profile=person, field=f, value=f"v{CHANGES}") for f in fields
    )
    others = 1000 if small else 100_000
    actions = [str(action) for action in known_actions()][:24]
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_profile (uuid, kind, first_name, last_name, email, phone,
                language, is_representative, name, registration_number, address, created_at,
                updated_at, organization_id)
            SELECT gen_random_uuid(), 'contact', '', 'C' || i, 'c' || i || '@x.org', '', 'fr',
                false, '', '', '', %s, %s, %s
            FROM generate_series(1, %s) i
            """,
            [now, now, org.pk, others],
        )
        cursor.execute(
            "SELECT min(id) FROM profiles_profile WHERE organization_id = %s AND id <> %s",
            [org.pk, person.pk],
        )
        first_other = cursor.fetchone()[0]
    # The person's own history: each field changed CHANGES times over the ten years.
    statements: list[tuple[str, list[Any]]] = [
        (
            f"""
            INSERT INTO profiles_fieldvaluehistory (organization_id, profile_id, field_id,
                old_value, new_value, kind, source, on_behalf, user_id, changed_at)
            SELECT %s, %s, f.id, to_jsonb('v' || k), to_jsonb('v' || (k + 1)),
                CASE WHEN k %% 4 = 0 THEN 'confirmation' ELSE 'change' END, 'staff', false, %s,
                %s::timestamptz + (k * {FIELDS} + f.position) * {STEP} * interval '1 second'
            FROM profiles_datafield f CROSS JOIN generate_series(0, {CHANGES - 1}) k
            WHERE f.organization_id = %s
            """,
            [org.pk, person.pk, users[1].pk, START, org.pk],
        ),
        # Entries about the person (a subject), and entries they made as a client.
        (
            f"""
            INSERT INTO organizations_auditentry (organization_id, user_id, actor, actor_name,
                actor_ref, action, target, details, at, seq, salt, personal_digest, entry_hash)
            SELECT %s, CASE WHEN g <= {SUBJECT_ENTRIES} THEN %s END,
                CASE WHEN g <= {SUBJECT_ENTRIES} THEN 'member' ELSE 'client' END,
                CASE WHEN g <= {SUBJECT_ENTRIES} THEN 'member1' ELSE 'Tenyears' END,
                CASE WHEN g <= {SUBJECT_ENTRIES} THEN %s ELSE %s END,
                (%s::text[])[1 + g %% %s], 'Tenyears', '{{}}'::jsonb, {_moment("g")}, g, '', '',
                ''
            FROM generate_series(1, {SUBJECT_ENTRIES + CLIENT_ENTRIES}) g
            """,
            [
                org.pk,
                users[1].pk,
                str(users[1].pk),
                str(person.uuid),
                actions,
                len(actions),
                START,
            ],
        ),
        (
            f"""
            INSERT INTO organizations_auditsubject (organization_id, entry_id, kind, ref)
            SELECT organization_id, id, 'profile', %s FROM organizations_auditentry
            WHERE organization_id = %s AND seq <= {SUBJECT_ENTRIES}
            """,
            [str(person.uuid), org.pk],
        ),
    ]
    _fill(statements, [])
    AuditChain.objects.create(organization=org, seq=SUBJECT_ENTRIES + CLIENT_ENTRIES)
    around = Organization.objects.bulk_create(
        Organization(name=f"Around {i}", slug=f"around-{i}") for i in range(OTHER_ORGS)
    )
    around_fields = DataField.objects.bulk_create(
        DataField(organization=o, applies_to=Kind.CONTACT, label="F", type="text", position=0)
        for o in around
    )
    around_rows = 20 if small else 1000
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_profile (uuid, kind, first_name, last_name, email, phone,
                language, is_representative, name, registration_number, address, created_at,
                updated_at, organization_id)
            SELECT gen_random_uuid(), 'contact', '', 'A' || i, 'a' || i || '@x.org', '', 'fr',
                false, '', '', '', %s, %s, o.id
            FROM unnest(%s::bigint[]) o(id) CROSS JOIN generate_series(1, 10) i
            """,
            [now, now, [o.pk for o in around]],
        )
    _fill(
        [
            (
                f"""
                INSERT INTO profiles_fieldvaluehistory (organization_id, profile_id, field_id,
                    old_value, new_value, kind, source, on_behalf, changed_at)
                SELECT f.organization_id, p.id, f.id, to_jsonb('v' || g),
                    to_jsonb('v' || (g + 1)), 'change', 'import', false, {_moment("(g + p.id)")}
                FROM profiles_datafield f
                JOIN profiles_profile p ON p.organization_id = f.organization_id
                CROSS JOIN generate_series(1, %s) g
                WHERE f.id = ANY(%s)
                """,
                [START, around_rows // 10, [f.pk for f in around_fields]],
            ),
            (
                f"""
                INSERT INTO organizations_auditentry (organization_id, actor, actor_name,
                    actor_ref, action, target, details, at, seq, salt, personal_digest,
                    entry_hash)
                SELECT o.id, 'system', '', '', (%s::text[])[1 + g %% %s], 'Around', '{{}}'::jsonb,
                    {_moment("(g + o.id)")}, g, '', '', ''
                FROM unnest(%s::bigint[]) o(id) CROSS JOIN generate_series(1, %s) g
                """,
                [actions, len(actions), START, [o.pk for o in around], around_rows // 2],
            ),
        ],
        ["profiles_fieldvaluehistory", "organizations_auditentry"],
    )
    AuditChain.objects.bulk_create(AuditChain(organization=o, seq=around_rows // 2) for o in around)
    return {
        "org": org,
        "admin": users[0],
        "member": users[1],
        "person": person,
        "field": fields[7],
        "actions": actions,
        "first_other": first_other,
        "others": others,
        "history": FIELDS * CHANGES,
        "audit": SUBJECT_ENTRIES + CLIENT_ENTRIES,
    }


def grow(people: dict[str, Any], history: int, audit: int) -> None:
    """Adds rows to the organisation, about its other profiles, up to `history` rows of
    history and `audit` entries, spread over the same ten years."""
    org = people["org"]
    first, others, actions = people["first_other"], people["others"], people["actions"]
    from organizations.models import AuditChain

    history_from = people["history"]
    # Past the entries the measures wrote (each export is audited).
    audit_from = AuditChain.objects.get(organization=org).seq
    statements: list[tuple[str, list[Any]]] = []
    if history > history_from:
        statements.append(
            (
                f"""
                INSERT INTO profiles_fieldvaluehistory (organization_id, profile_id, field_id,
                    old_value, new_value, kind, source, on_behalf, user_id, changed_at)
                SELECT %s, %s + g %% %s, f.first_id + g %% {FIELDS}, to_jsonb('v' || g),
                    to_jsonb('v' || (g + 1)),
                    CASE WHEN g %% 3 = 0 THEN 'confirmation' ELSE 'change' END,
                    CASE WHEN g %% 2 = 0 THEN 'staff' ELSE 'import' END, false,
                    CASE WHEN g %% 2 = 0 THEN %s END, {_moment("g")}
                FROM (SELECT min(id) AS first_id FROM profiles_datafield
                      WHERE organization_id = %s) f
                CROSS JOIN generate_series(%s, %s) g
                """,
                [
                    org.pk,
                    first,
                    others,
                    people["member"].pk,
                    START,
                    org.pk,
                    history_from + 1,
                    history,
                ],
            )
        )
    if audit > audit_from:
        statements += [
            (
                # Six in ten by members, one by an API key, one by a client, two by the system.
                f"""
                INSERT INTO organizations_auditentry (organization_id, user_id, actor,
                    actor_name, actor_ref, action, target, details, at, seq, salt,
                    personal_digest, entry_hash)
                SELECT %s, CASE WHEN g %% 10 < 6 THEN (%s::bigint[])[1 + g %% {MEMBERS}] END,
                    (ARRAY['member', 'member', 'member', 'member', 'member', 'member',
                           'api_key', 'client', 'system', 'system'])[1 + g %% 10],
                    'someone', CASE WHEN g %% 10 < 6
                        THEN ((%s::bigint[])[1 + g %% {MEMBERS}])::text ELSE '' END,
                    (%s::text[])[1 + g %% %s], 'C' || g, jsonb_build_object('n', g),
                    {_moment("g")}, g, '', '', ''
                FROM generate_series(%s, %s) g
                """,
                [
                    org.pk,
                    [people["admin"].pk, people["member"].pk, *[people["member"].pk] * 3],
                    [people["admin"].pk, people["member"].pk, *[people["member"].pk] * 3],
                    actions,
                    len(actions),
                    START,
                    audit_from + 1,
                    audit,
                ],
            ),
            (
                # Half the entries are about one of the other profiles.
                """
                INSERT INTO organizations_auditsubject (organization_id, entry_id, kind, ref)
                SELECT e.organization_id, e.id, 'profile', p.uuid::text
                FROM organizations_auditentry e
                JOIN profiles_profile p ON p.id = %s + e.seq %% %s
                WHERE e.organization_id = %s AND e.seq BETWEEN %s AND %s AND e.seq %% 2 = 0
                """,
                [first, others, org.pk, audit_from + 1, audit],
            ),
        ]
    _fill(
        statements,
        ["profiles_fieldvaluehistory", "organizations_auditentry", "organizations_auditsubject"],
    )
    AuditChain.objects.filter(organization=org).update(seq=max(audit, audit_from))
    people["history"], people["audit"] = max(history, history_from), max(audit, audit_from)
    analyze(vacuum=True)


def _urls(people: dict[str, Any]) -> dict[str, str]:
    from django.urls import reverse

    org, person, field = people["org"], people["person"], people["field"]
    slug = org.slug
    history = reverse("profiles:history", args=[slug, person.uuid])
    audit = reverse("audit_log", args=[slug])
    # Five years back: a cursor in the middle of the log (the Older link's form).
    middle = START + dt.timedelta(seconds=SPAN_SECONDS // 2)
    micros = (middle - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    month = (START + dt.timedelta(days=365 * 5)).date()
    return {
        "profile": reverse("profiles:detail", args=[slug, person.uuid]),
        "field_history": f"{history}?field={field.uuid}",
        "history": history,
        "audit": audit,
        "audit_older": f"{audit}?before={micros}.{2**62}",
        "audit_actor": f"{audit}?user={people['member'].pk}",
        "audit_action": f"{audit}?action={people['actions'][3]}",
        "audit_dates": f"{audit}?since={month.isoformat()}"
        f"&until={(month + dt.timedelta(days=30)).isoformat()}",
        "export": reverse("profiles:privacy_export", args=[slug, person.uuid]),
    }


def measure_pages(people: dict[str, Any], repeat: int) -> dict[str, dict[str, float]]:
    from django.test import Client, override_settings

    client = Client()
    client.force_login(people["admin"])
    figures = {}
    # Static files by name, not through the manifest a deployment's collectstatic writes
    # (one dictionary lookup per file, the same at every size).
    plain = override_settings(
        STORAGES={
            **settings_storages(),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    with plain:
        for key, url in _urls(people).items():
            figures[key] = _measure(client, url, repeat)
    return figures


def settings_storages() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.STORAGES)


def _measure(client: Any, url: str, repeat: int) -> dict[str, float]:
    """The median of `repeat` requests, after one that warms the caches."""
    runs = []
    for attempt in range(repeat + 1):
        with measured() as result:
            response = client.get(url)
            body = b"".join(response) if response.streaming else response.content
        assert response.status_code == 200, (url, response.status_code)
        assert body
        if attempt:
            runs.append(result)
    return median(runs)


def bench_history(sizes: list[tuple[int, int]], repeat: int, small: bool) -> dict[str, Any]:
    people = build_people(small)
    rows = []
    for history, audit in sizes:
        grow(people, history, audit)
        pages = measure_pages(people, repeat)
        rows.append({"history": history, "audit": audit, "pages": pages})
        print(
            f"history {history:,}/{audit:,}: "
            + ", ".join(f"{k} {v['seconds'] * 1000:.0f} ms" for k, v in pages.items()),
            flush=True,
        )
    return {
        "sizes": rows,
        "person_history": FIELDS * CHANGES,
        "person_entries": SUBJECT_ENTRIES + CLIENT_ENTRIES,
        "other_orgs": OTHER_ORGS,
        "repeat": repeat,
    }


def render_history(history: dict) -> list[str]:
    first, last = history["sizes"][0], history["sizes"][-1]
    lines = [
        "## 11. Ten years of history: the pages that read the history and the audit log",
        "",
        f"One organisation's value history and audit log at {first['history']:,}/"
        f"{first['audit']:,} rows and at {last['history']:,}/{last['audit']:,}"
        f" ({history['other_orgs']} organisations around it with a few rows each); the"
        f" person measured has {history['person_history']:,} rows of history and"
        f" {history['person_entries']:,} audit entries at both sizes. Each page through"
        f" Django's test client, the median of {history['repeat']} requests. The pages read"
        " keyset pages (`organizations.keyset.keyset_page`: no OFFSET, no COUNT) from"
        " composite indexes that match each filter and the order (`audit_org_at`,"
        " `audit_org_action_at`, `audit_org_actor_at`, `audit_org_user_at`,"
        " `history_profile_at`, `history_profile_field_at`); the export finds the person's"
        " entries by reference (`organizations.privacy.entries_about`).",
        "",
        f"| page | ms at {first['history']:,} | queries | ms at {last['history']:,} | queries |"
        " ratio (target ≤ 2) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in PAGES:
        a, b = first["pages"][key], last["pages"][key]
        lines.append(
            f"| {label} | {a['seconds'] * 1000:.1f} | {a['queries']:.0f} |"
            f" {b['seconds'] * 1000:.1f} | {b['queries']:.0f} |"
            f" {b['seconds'] / a['seconds']:.2f} |"
        )
    return [
        *lines,
        "",
        "No table is partitioned. Every query of these pages is a range of one index (an"
        " organisation or a profile, then the moment) read up to its LIMIT, whose cost grows"
        " with the depth of the B-tree, one level more between the two sizes, not with the"
        " rows; partitions by time would make the per-profile reads visit every partition,"
        " and the one use they serve, dropping old rows, does not apply to rows kept for good.",
        "",
    ]
