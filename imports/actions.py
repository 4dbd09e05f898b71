"""The verb of the imports app: `import_rows`, the set-based writer every import door takes
(a file's run, its dry run, the API's bulk upsert).

A row is a door like any other: its values went through the data fields' own validation
(imports.parsing), each change appends a history row naming the import and who ran it, and
the value-change signal goes out as for any change. Rows are matched by external reference,
then by e-mail (contacts) or registration number (companies); a match that is not one
profile is an error, never a guess. Written a batch at a time in statements, not per row.
"""

from __future__ import annotations

import json
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from django.db import connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from imports import audit as audit_actions
from imports import digests
from imports.mapping import attribute_label
from imports.models import ExportJob, ImportedRow
from imports.parsing import ParsedRow, required_missing
from organizations.actors import Actor, ActorKind
from organizations.models import Organization
from profiles import audit as profile_audit
from profiles import fieldtypes
from profiles.models import (
    DataField,
    FieldValue,
    FieldValueHistory,
    HistoryKind,
    Kind,
    Profile,
    Source,
)
from profiles.signals import identities_imported, values_imported

IDENTITY_COMPARED = {
    Kind.CONTACT: ("first_name", "last_name", "email", "phone", "language", "is_representative"),
    Kind.COMPANY: ("name", "registration_number", "address", "language"),
}
PREVIEW_CHANGES = 200


# The identity fields that decide where a person's requests go (dossiers.foureyes).
ROUTING = frozenset({"email", "company", "is_representative"})
# What a new profile was given, as the four-eyes rule reads it.
_IDENTITY_GIVEN = ("email", "company", "is_representative")


@dataclass(frozen=True)
class ImportSource:
    """What the history rows name: the import and its file."""

    uuid: uuid.UUID | None
    name: str


@dataclass
class Change:
    line: int
    profile: str
    created: bool
    # (what, before, after), as a person reads them.
    changes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class RowsResult:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    # (line, column heading, message)
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # The companies a contacts file names that were not on file, by their name folded: a
    # set, since a dry run's batches each plan the same company the file names again.
    new_companies: set[str] = field(default_factory=set)

    def add(self, other: RowsResult, *, keep_changes: int = PREVIEW_CHANGES) -> None:
        self.new_companies |= other.new_companies
        self.created += other.created
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.errors += other.errors
        room = keep_changes - len(self.changes)
        if room > 0:
            self.changes += other.changes[:room]


def duplicate_errors(
    keys: Callable[[], Iterable[tuple[int, str, str]]],
) -> dict[int, str]:
    """Line → why, for the rows whose key another row of the same file holds: a reference
    twice, or (rows without one) an e-mail or registration number twice. Neither is kept.

    `keys()` gives (line, reference, e-mail or registration number) for each row, afresh at
    each call: two passes, the first keeping only each key's hash (eight bytes a row, not
    the text), the second the few keys whose hash came twice, counted for good.
    """
    hashes = array("q")
    for _line, reference, other in keys():
        if reference:
            hashes.append(hash(("r", reference)))
        elif other:
            hashes.append(hash(("o", other.casefold())))
    ordered = sorted(hashes)
    del hashes
    twice = {a for a, b in pairwise(ordered) if a == b}
    del ordered
    if not twice:
        return {}
    # (line, the key as compared, as written)
    suspects: list[tuple[int, tuple[str, str], str]] = []
    for line, reference, other in keys():
        key = ("r", reference) if reference else ("o", other.casefold()) if other else None
        if key is not None and hash(key) in twice:
            suspects.append((line, key, reference or other))
    counted = Counter(key for _line, key, _shown in suspects)
    found: dict[int, str] = {}
    for line, key, shown in suspects:
        if counted[key] < 2:
            continue  # two keys of one hash, each once
        if key[0] == "r":
            found[line] = _("The reference %(value)s is on several lines of the file.") % {
                "value": shown
            }
        else:
            found[line] = _("%(value)s is on several lines of the file.") % {"value": shown}
    return found


def rows_keys(rows: Sequence[ParsedRow], kind: str) -> list[tuple[int, str, str]]:
    """The keys `duplicate_errors` reads, of rows already parsed (the API's)."""
    key = "email" if kind == Kind.CONTACT else "registration_number"
    return [(r.line, r.reference, str(r.identity.get(key) or "")) for r in rows]


def import_rows(
    *,
    organization: Organization,
    actor: Actor,
    kind: str,
    rows: Sequence[ParsedRow],
    source: ImportSource,
    dry_run: bool = False,
    duplicates: dict[int, str] | None = None,
    create_companies: bool = False,
    match_field: DataField | None = None,
) -> RowsResult:
    """Creates or updates one profile per valid row, with its values; returns the counts,
    each refused row's errors, and (for a dry run) what would change.

    Rows are written together or not at all (one transaction); the caller splits a file into
    batches. `duplicates` are the file-wide refusals of `duplicate_errors`. With
    `create_companies`, a contact's company that is not on file is created under the name
    the file gives it (companies and their people in one file), once however many rows
    name it.

    Companies without a reference are matched by `match_field`, a text field of companies,
    when the organisation chose one (on the mapping page), else by their registration number.
    A row parsed with its cells' digest leaves it with its profile (imports.digests).
    """
    if actor.kind == ActorKind.CLIENT:
        raise ValueError("a client's answers reach the profile through their dossier")
    result = RowsResult()
    duplicates = duplicates or {}
    good: list[ParsedRow] = []
    for row in rows:
        if row.line in duplicates:
            result.errors.append((row.line, "", duplicates[row.line]))
        elif row.errors:
            result.errors += [(row.line, column, message) for column, message in row.errors]
        else:
            good.append(row)
    matched = _match(organization, kind, good, result, match_field)
    identity_changes: list[tuple[Profile, list[str]]] = []
    routing_before: dict[int, str] = {}
    companies = (
        _companies(organization, good, result, create=create_companies)
        if kind == Kind.CONTACT
        else {}
    )
    new_companies = list({c.pk or id(c): c for c in companies.values() if c.pk is None}.values())
    now = timezone.now()
    user = actor.member_user
    history: dict[str, Any] = {
        "source": Source.IMPORT if actor.kind != ActorKind.API_KEY else Source.API,
        "user": user,
        "changed_at": now,
        "import_uuid": source.uuid,
        "import_name": source.name[:200],
    }
    if actor.kind == ActorKind.API_KEY:
        # Named, not pointed at: the api app is to this one's right.
        history["api_key_uuid"] = actor.api_key.uuid
        history["api_key_name"] = actor.api_key.name

    fields = {f.pk: f for row in good for f, _value in row.values}
    # (profile, field) → (the value row's id, its value): tuples, not model objects, since a
    # re-import compares every value and writes few.
    current: dict[tuple[int, int], tuple[int, Any]] = {}
    existing_ids = [p.pk for p in matched.values()]
    if existing_ids and fields:
        for pk, profile_id, field_id, stored in FieldValue.objects.filter(
            organization=organization, profile_id__in=existing_ids, field_id__in=list(fields)
        ).values_list("pk", "profile_id", "field_id", "value"):
            current[(profile_id, field_id)] = (pk, stored)

    new_profiles: list[Profile] = []
    changed_profiles: list[Profile] = []
    identity_columns: set[str] = set()
    # (profile, field, old value or None, new value, the value row's id or None)
    writes: list[tuple[Profile, Any, Any, Any, int | None]] = []
    # (profile, whether it is new, its row, the row's values as left on file)
    remembered: list[tuple[Profile, bool, ParsedRow, dict[int, Any]]] = []
    for row in good:
        profile = matched.get(row.line)
        identity = dict(row.identity)
        if kind == Kind.CONTACT and row.company:
            if row.line not in companies:
                continue
            identity["company"] = companies[row.line]
        creating = profile is None
        errors = _identity_errors(kind, identity, profile)
        if errors:
            result.errors += [(row.line, column, message) for column, message in errors]
            continue
        change = Change(line=row.line, profile="", created=creating)
        if profile is None:
            # In the organisation's language unless the file gives one, as any new profile.
            profile = Profile(
                organization=organization, kind=kind, language=organization.default_language
            )
            profile.external_reference = row.reference
            for name, value in identity.items():
                setattr(profile, name, value)
            new_profiles.append(profile)
        else:
            touched = False
            names: list[str] = []
            if row.reference and profile.external_reference != row.reference:
                change.changes.append(
                    (str(_("External reference")), profile.external_reference, row.reference)
                )
                profile.external_reference = row.reference
                identity_columns.add("external_reference")
                touched = True
            for name, value in identity.items():
                before = getattr(profile, name)
                if before != value:
                    label = attribute_label(name)
                    change.changes.append((label, _shown(before), _shown(value)))
                    routing_before.setdefault(profile.pk, profile.email)
                    setattr(profile, name, value)
                    identity_columns.add("company_id" if name == "company" else name)
                    names.append(name)
                    touched = True
            if touched:
                changed_profiles.append(profile)
                identity_changes.append((profile, names))
        change.profile = profile.display_name
        left: dict[int, Any] = {}
        values_changed = False
        for data_field, value in row.values:
            held = None if creating else current.get((profile.pk, data_field.pk))
            old = held[1] if held is not None else None
            if fieldtypes.same(data_field, old, value):
                left[data_field.pk] = old
                continue
            left[data_field.pk] = value
            writes.append((profile, data_field, old, value, held[0] if held else None))
            values_changed = True
            if dry_run:
                # Shown by the dry run's page only: a run keeps no change described, and
                # describing each value is most of a row's cost beside its validation.
                change.changes.append(
                    (
                        data_field.local_label,
                        fieldtypes.display(data_field, old),
                        fieldtypes.display(data_field, value),
                    )
                )
        if row.digest:
            remembered.append((profile, creating, row, left))
        if creating:
            result.created += 1
        elif change.changes or values_changed:
            result.changed += 1
        else:
            result.unchanged += 1
        if change.changes or creating:
            result.changes.append(change)
    if dry_run:
        return result

    with transaction.atomic(), actor.acting():
        if new_companies:
            # First: the contacts that name them take their keys as they are saved.
            Profile.objects.bulk_create(new_companies)
        if new_profiles:
            Profile.objects.bulk_create(new_profiles)
            identity_changes += [(profile, list(_IDENTITY_GIVEN)) for profile in new_profiles]
        if changed_profiles:
            for profile in changed_profiles:
                profile.updated_at = now
            # A person whose e-mail, company or representation changed is saved one by one:
            # their links follow the change as after any other door (dossiers.revocation),
            # and the audit says where their requests went before and after.
            # Of the profiles changed: the batch's new ones are in `identity_changes` too
            # (for the receivers), already written whole.
            changed_ids = {profile.pk for profile in changed_profiles}
            routed = {
                profile.pk
                for profile, names in identity_changes
                if ROUTING.intersection(names) and profile.pk in changed_ids
            }
            Profile.objects.bulk_update(
                [p for p in changed_profiles if p.pk not in routed],
                sorted(identity_columns | {"updated_at"}),
            )
            for profile, names in identity_changes:
                if profile.pk not in routed:
                    continue
                profile.save(update_fields=sorted(identity_columns | {"updated_at"}))
                emails: dict[str, str] = (
                    {"email_before": routing_before[profile.pk], "email_after": profile.email}
                    if "email" in names
                    else {}
                )
                actor.audit(
                    organization,
                    profile_audit.PROFILE_UPDATED,
                    profile,
                    changed=", ".join(names),
                    **emails,
                )
        # Who set where a person's requests go does not decide on their answers.
        identities_imported.send(
            Profile, organization_id=organization.pk, actor=actor, changes=identity_changes
        )
        created_values: list[dict[str, Any]] = []
        updated_values: list[FieldValue] = []
        history_rows: list[dict[str, Any]] = []
        for profile, data_field, old, value, value_pk in writes:
            if value_pk is None:
                created_values.append(
                    {"profile": profile, "field": data_field, "value": value, "updated_at": now}
                )
            else:
                updated_values.append(FieldValue(pk=value_pk, value=value, updated_at=now))
            history_rows.append(
                {"profile": profile, "field": data_field, "old_value": old, "new_value": value}
            )
        insert(FieldValue, created_values, organization=organization)
        FieldValue.objects.bulk_update(updated_values, ["value", "updated_at"], batch_size=2000)
        history_rows = [{**row, "kind": HistoryKind.CHANGE, **history} for row in history_rows]
        insert(FieldValueHistory, history_rows, organization=organization)
        _remember(organization, remembered)
        heard = {p.pk: p for p in [*new_companies, *new_profiles, *changed_profiles]}
        for profile, _field, _old, _value, _fv in writes:
            heard.setdefault(profile.pk, profile)
        if heard:
            # Every receiver hears the batch as it hears any change (the overview's cells,
            # the webhooks, triggers), new profiles too: bulk_create sends no post_save.
            # The rows are built as a receiver reads them: most read none.
            values_imported.send(
                sender=Profile,
                organization_id=organization.pk,
                profiles=list(heard.values()),
                rows=_HistoryRows(organization, history_rows),
            )
    return result


def _remember(
    organization: Organization,
    remembered: list[tuple[Profile, bool, ParsedRow, dict[int, Any]]],
) -> None:
    """Each row's digests on its profile, for the next import of the same cells."""
    fresh: list[dict[str, Any]] = []
    # By profile: two rows of a batch may reach one (by reference, and by e-mail); the last
    # one's is kept, a statement cannot update one row twice.
    known: dict[int, ImportedRow] = {}
    for profile, creating, row, left in remembered:
        state = digests.of_state(
            profile.external_reference,
            {name: getattr(profile, name) for name in row.identity},
            left,
        )
        if creating:
            fresh.append({"profile": profile, "read": row.digest, "left": state})
        else:
            known[profile.pk] = ImportedRow(
                profile=profile, organization=organization, read=row.digest, left=state
            )
    if known:
        ImportedRow.objects.bulk_create(
            list(known.values()),
            update_conflicts=True,
            unique_fields=["profile"],
            update_fields=["read", "left"],
            batch_size=2000,
        )
    # A new profile has none yet: appended as its values are.
    insert(ImportedRow, fresh, organization=organization)


class _HistoryRows:
    """A batch's history rows as the receivers of `values_imported` read them: built as they
    are read, afresh for each receiver that reads them (a generator would leave the second
    one nothing: the webhooks and the triggers both read them)."""

    def __init__(self, organization: Organization, rows: list[dict[str, Any]]) -> None:
        self.organization, self.rows = organization, rows

    def __iter__(self) -> Iterator[FieldValueHistory]:
        return (FieldValueHistory(organization=self.organization, **row) for row in self.rows)


def insert(
    model: type[FieldValue] | type[FieldValueHistory] | type[ImportedRow],
    rows: list[dict[str, Any]],
    *,
    organization: Organization,
) -> None:
    """Appends the rows (field name → value, a relation by its object) in the caller's
    transaction: with `COPY` on PostgreSQL, which spares the per-object work of
    `bulk_create` (most of an import's time otherwise), with `bulk_create` elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(organization=organization, **row) for row in rows],  # type: ignore[misc]
            batch_size=2000,
        )
        return
    # Every column, those the rows leave out at their default, as bulk_create would write
    # them: a column another change adds is written too.
    # Less the id the database gives: a key that is a relation (a profile's) is written.
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.auto_created)]
    defaults = {f.name: f.get_default() for f in fields}
    defaults["organization"] = organization
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    converters = [(f.name, _converter(f)) for f in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    connection.ensure_connection()
    raw: Any = connection.connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    convert(row[name] if name in row else defaults[name])
                    for name, convert in converters
                ]
            )


def _converter(model_field: Any) -> Callable[[Any], Any]:
    if isinstance(model_field, models.JSONField):
        return lambda value: None if value is None else json.dumps(value)
    if model_field.is_relation:
        return lambda value: getattr(value, "pk", value)
    return lambda value: value


def _shown(value: Any) -> str:
    if isinstance(value, Profile):
        return value.display_name
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    return "" if value is None else str(value)


def _identity_errors(
    kind: str, identity: dict[str, Any], profile: Profile | None
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    final = {
        name: identity.get(name, getattr(profile, name, None) if profile else None)
        for name in ("last_name", "email", "name", "company", "is_representative")
    }
    for name in required_missing(kind, final):
        label = attribute_label(name)
        errors.append((label, _("A new profile needs this value.")))
    if kind == Kind.CONTACT and final["is_representative"] and not final["company"]:
        errors.append(("", _("Choose the company this contact represents.")))
    return errors


class JsonTextLower(models.Func):
    """The lower-cased text of a JSON string value (NULL for any other JSON)."""

    output_field = models.TextField()
    template = "LOWER(json_extract(%(expressions)s, '$'))"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="LOWER(%(expressions)s #>> '{}')")


def match_key(row: ParsedRow, kind: str, match_field: DataField | None = None) -> str:
    """What matches a row without a reference: a contact's e-mail; a company's value of
    the field chosen to match companies, else its registration number."""
    if kind == Kind.COMPANY and match_field is not None:
        return next((str(v) for f, v in row.values if f.pk == match_field.pk and v), "")
    key = "email" if kind == Kind.CONTACT else "registration_number"
    return str(row.identity.get(key) or "")


def _match(
    organization: Organization,
    kind: str,
    rows: list[ParsedRow],
    result: RowsResult,
    match_field: DataField | None = None,
) -> dict[int, Profile]:
    """Line → the one profile the row names; lines that name several, or an archived one,
    become errors and leave `rows`."""
    profiles = Profile.objects.filter(organization=organization, kind=kind)
    references = {r.reference for r in rows if r.reference}
    by_reference = {
        p.external_reference: p for p in profiles.filter(external_reference__in=references)
    }
    keys = {r.line: match_key(r, kind, match_field) for r in rows}
    wanted = {k.casefold() for k in keys.values() if k}
    by_key: dict[str, list[Profile]] = {}
    if wanted and kind == Kind.COMPANY and match_field is not None:
        # A field's value is stored as JSON: its text compared without case, as the
        # registration number and the file's duplicate check compare theirs.
        for value in (
            FieldValue.objects.filter(
                organization=organization, field=match_field, profile__kind=kind
            )
            .annotate(match_key=JsonTextLower("value"))
            .filter(match_key__in=sorted({k.lower() for k in keys.values() if k}))
            .select_related("profile")
        ):
            by_key.setdefault(str(value.value).casefold(), []).append(value.profile)
    elif wanted:
        key = "email" if kind == Kind.CONTACT else "registration_number"
        for p in profiles.annotate(match_key=Lower(key)).filter(match_key__in=wanted):
            by_key.setdefault(p.match_key, []).append(p)
    matched: dict[int, Profile] = {}
    refused: set[int] = set()
    for row in rows:
        found: Profile | None = by_reference.get(row.reference) if row.reference else None
        if found is None and keys[row.line]:
            candidates = [
                p
                for p in by_key.get(keys[row.line].casefold(), [])
                if not row.reference or not p.external_reference
            ]
            if len(candidates) > 1:
                result.errors.append(
                    (
                        row.line,
                        "",
                        _("%(value)s matches %(n)s profiles: give this line their reference.")
                        % {"value": keys[row.line], "n": len(candidates)},
                    )
                )
                refused.add(row.line)
                continue
            found = candidates[0] if candidates else None
        if found is not None and found.is_archived:
            result.errors.append(
                (
                    row.line,
                    "",
                    _("%(name)s is archived: restore the profile first.")
                    % {"name": found.display_name},
                )
            )
            refused.add(row.line)
            continue
        if found is not None:
            matched[row.line] = found
    rows[:] = [r for r in rows if r.line not in refused]
    return matched


def _companies(
    organization: Organization, rows: list[ParsedRow], result: RowsResult, *, create: bool
) -> dict[int, Profile]:
    """Line → the company a contact's company column names, by reference, else by name;
    with `create`, a company named nowhere on file is a new one (unsaved), the same object
    for every row that names it."""
    names = {r.company for r in rows if r.company}
    if not names:
        return {}
    companies = Profile.objects.filter(organization=organization, kind=Kind.COMPANY).active()
    by_reference = {c.external_reference: c for c in companies.filter(external_reference__in=names)}
    by_name: dict[str, list[Profile]] = {}
    for c in companies.annotate(match_key=Lower("name")).filter(
        match_key__in={n.casefold() for n in names}
    ):
        by_name.setdefault(c.match_key, []).append(c)
    found: dict[int, Profile] = {}
    planned: dict[str, Profile] = {}
    heading = attribute_label("company")
    for row in rows:
        if not row.company:
            continue
        company = by_reference.get(row.company)
        candidates = [company] if company else by_name.get(row.company.casefold(), [])
        if len(candidates) == 1:
            found[row.line] = candidates[0]
        elif candidates:
            result.errors.append(
                (
                    row.line,
                    heading,
                    _("Several companies are named %(name)s: give its reference.")
                    % {"name": row.company},
                )
            )
        elif create:
            key = row.company.casefold()
            if key not in planned:
                planned[key] = Profile(
                    organization=organization,
                    kind=Kind.COMPANY,
                    name=row.company[:200],
                    language=organization.default_language,
                )
                result.new_companies.add(key)
                result.changes.append(
                    Change(line=row.line, profile=planned[key].display_name, created=True)
                )
            found[row.line] = planned[key]
        else:
            result.errors.append(
                (
                    row.line,
                    heading,
                    _(
                        "No company %(name)s on file: import the companies first, or let this "
                        "import create them (on the mapping page)."
                    )
                    % {"name": row.company},
                )
            )
    return found


def record_import(
    *, organization: Organization, actor: Actor, name: str, result: RowsResult, **details: Any
) -> None:
    """The one audit entry of an import, with its counts."""
    actor.audit(
        organization,
        audit_actions.PROFILES_IMPORTED,
        name,
        file=name,
        created=result.created,
        changed=result.changed,
        unchanged=result.unchanged,
        errors=len({line for line, _c, _m in result.errors}),
        **details,
    )


def export_profiles(
    organization: Organization, *, actor: Actor, kind: str, format: str, background: bool
) -> ExportJob | None:
    """An export of contacts or companies, recorded as read: with `background`, a job that a
    task writes (its progress on the job, the file kept for a day), started on commit;
    otherwise None, and the caller writes the file in the response."""
    from imports import tasks
    from imports.export import profiles

    rows = profiles(organization, kind).count()
    job = None
    if background:
        job = ExportJob.objects.create(
            organization=organization,
            kind=kind,
            format=format,
            language=translation.get_language() or organization.default_language,
            created_by=actor.member_user,
            total_rows=rows,
        )
        transaction.on_commit(lambda: tasks.run_export.delay(job.pk))
    name = f"{'contacts' if kind == Kind.CONTACT else 'companies'}.{format}"
    actor.audit(organization, audit_actions.PROFILES_EXPORTED, name, file=name, rows=rows)
    return job
