"""The verbs of profiles.actions: what each does by itself, and that each of its doors (back
office, API, demo seed) calls it, once, rather than writing for itself."""

from __future__ import annotations

import ast
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import Client
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from api.models import ApiKey
from organizations.actors import Actor
from organizations.models import AuditEntry
from profiles import actions, demo
from profiles.models import (
    DataField,
    Document,
    FieldValue,
    FieldValueHistory,
    Kind,
    PendingDeletion,
    Profile,
    Source,
)
from profiles.services import StorageUnavailable
from profiles.uploads import check_upload
from tests import factories

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def calls(verb: str, where: Any = actions) -> Iterator[mock.MagicMock]:
    """Counts the calls of an action, looked up where the door looks it up."""
    with mock.patch.object(where, verb, wraps=getattr(actions, verb)) as spy:
        yield spy


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _key(org: Any) -> tuple[ApiKey, Client]:
    with scopes_disabled():
        key, secret = ApiKey.issue(org, name="CRM sync", access=ApiKey.Access.WRITE)
    return key, Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _pdf(name: str = "bill.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, factories.PDF, "application/pdf")


def _reload(obj: Any) -> Any:
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


# No door writes an audit entry of these verbs itself.


def _audit_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in {"audit", "record_audit"}:
                found.append(f"line {node.lineno}")
    return found


def test_no_door_of_the_profiles_verbs_writes_an_audit_entry_itself() -> None:
    """profiles/*.py but the actions, and the API's profile and document viewsets."""
    offenders = {}
    for path in sorted((ROOT / "profiles").glob("*.py")):
        if path.name in {"actions.py", "audit.py"}:
            continue
        found = _audit_calls(ast.parse(path.read_text()))
        if found:
            offenders[path.name] = found
    api_views = ast.parse((ROOT / "api" / "views.py").read_text())
    for node in api_views.body:
        if isinstance(node, ast.ClassDef) and node.name in {"ProfileViewSet", "DocumentViewSet"}:
            found = _audit_calls(node)
            if found:
                offenders[node.name] = found
    assert offenders == {}


# Profiles


def test_create_profile_records_its_member_and_refuses_what_the_forms_refuse(
    org, other_org, member
) -> None:
    company = factories.company(org)
    gone = factories.company(org, name="Gone Ltd", archived_at="2026-01-01T00:00Z")
    theirs = factories.company(other_org)
    with scope(organization=org):
        profile = actions.create_profile(
            organization=org,
            actor=Actor.member(member),
            kind=Kind.CONTACT,
            identity={"last_name": "Lee", "email": "ann@example.com", "company": company},
        )
        with pytest.raises(ValidationError) as refused:
            actions.create_profile(
                organization=org,
                actor=Actor.member(member),
                kind=Kind.CONTACT,
                identity={"last_name": "Lee", "email": "", "is_representative": True},
            )
        assert set(refused.value.message_dict) == {"email", "is_representative"}
        with pytest.raises(ValidationError) as refused:
            actions.create_profile(
                organization=org,
                actor=Actor.member(member),
                kind=Kind.CONTACT,
                identity={"last_name": "Lee", "email": "b@example.com", "company": gone},
            )
        assert set(refused.value.message_dict) == {"company"}
        with pytest.raises(ValidationError) as refused:
            actions.create_profile(
                organization=org,
                actor=Actor.member(member),
                kind=Kind.CONTACT,
                identity={"last_name": "Lee", "email": "c@example.com", "company": theirs},
            )
        assert set(refused.value.message_dict) == {"company"}
        with pytest.raises(ValidationError) as refused:
            actions.create_profile(
                organization=org,
                actor=Actor.member(member),
                kind=Kind.COMPANY,
                identity={"name": "Initech", "first_name": "Ann"},
            )
        assert set(refused.value.message_dict) == {"first_name"}
    assert profile.company == company and profile.organization == org
    [entry] = _entries("profiles.profile.created")
    assert (entry.actor, entry.user, entry.details["kind"]) == ("member", member, "contact")
    with scopes_disabled():
        assert Profile.objects.filter(organization=org, kind=Kind.CONTACT).count() == 1


def test_update_profile_reads_what_changed_from_the_database_not_the_instance(org, member) -> None:
    """A model form sets the new values on its instance before the action runs."""
    profile = factories.contact(org, email="ann@example.com")
    with scope(organization=org):
        profile.email = "ann@new.example"
        actions.update_profile(
            profile,
            actor=Actor.member(member),
            identity={"email": "ann@new.example", "last_name": profile.last_name},
        )
        actions.update_profile(profile, actor=Actor.member(member), identity={"phone": ""})
    [entry] = _entries("profiles.profile.updated")
    assert entry.details == {
        "changed": "email",
        "email_before": "ann@example.com",
        "email_after": "ann@new.example",
    }
    assert _reload(profile).email == "ann@new.example"


def test_a_contact_keeps_an_archived_company_it_had_but_joins_none(org, member) -> None:
    company = factories.company(org)
    other = factories.company(org, name="Other Ltd")
    profile = factories.contact(org, company=company)
    with scopes_disabled():
        Profile.objects.filter(pk__in=[company.pk, other.pk]).update(
            archived_at="2026-01-01T00:00Z"
        )
    with scope(organization=org):
        profile = Profile.objects.select_related("company").get(pk=profile.pk)
        actions.update_profile(
            profile, actor=Actor.member(member), identity={"company": profile.company}
        )
        with pytest.raises(ValidationError) as refused:
            actions.update_profile(
                profile, actor=Actor.member(member), identity={"company": _reload(other)}
            )
    assert set(refused.value.message_dict) == {"company"}
    assert _reload(profile).company_id == company.pk


def test_archive_and_restore_profile_change_once_and_say_so_once(org) -> None:
    key, _api = _key(org)
    profile = factories.contact(org)
    with scope(organization=org):
        actor = Actor.of_api_key(key)
        actions.archive_profile(profile, actor=actor)
        actions.archive_profile(profile, actor=actor)
        assert _reload(profile).is_archived
        actions.restore_profile(profile, actor=actor)
        actions.restore_profile(profile, actor=actor)
    assert not _reload(profile).is_archived
    [archived] = _entries("profiles.profile.archived")
    [restored] = _entries("profiles.profile.restored")
    assert archived.actor == restored.actor == "api_key"
    assert archived.actor_name == "CRM sync" and archived.actor_ref == str(key.uuid)


def test_export_and_erase_profile_are_audited_without_naming_the_erased(org, owner) -> None:
    field = factories.field(org, "document")
    profile = factories.contact(org, first_name="Eve", last_name="Erased")
    with scope(organization=org):
        actions.set_values(profile, actor=Actor.member(owner), values=[(field, _pdf())])
        archive = actions.export_profile(profile, actor=Actor.member(owner))
        assert any(name.startswith("documents/") for name in zipfile.ZipFile(archive).namelist())
        [document] = Document.objects.filter(profile=profile)
        key = document.file.name
        [exported] = _entries("profiles.profile.exported")
        assert (exported.target, exported.details["files"]) == ("Eve Erased", "1")
        assert actions.erase_profile(profile, actor=Actor.member(owner)) == 1
    assert not default_storage.exists(key)
    with scopes_disabled():
        assert not Profile.objects.filter(pk=profile.pk).exists()
    [erased] = _entries("profiles.profile.erased")
    assert erased.details["files"] == "1"
    assert erased.target == "contact" and "Eve" not in str(erased.details)


# Values and documents


def test_set_values_writes_values_uploads_and_removals_naming_each_actor(org, member) -> None:
    text = factories.field(org, "text")
    note = factories.field(org, "text")
    proof = factories.field(org, "document")
    profile = factories.contact(org)
    key, _api = _key(org)
    with scope(organization=org):
        actions.set_values(profile, actor=Actor.system("seed_demo"), values=[(note, "Old")])
        rows = actions.set_values(
            profile,
            actor=Actor.member(member),
            values=[(text, "Baker"), (proof, _pdf())],
            removals=[note],
        )
        assert [(r.field_id, r.source, r.user_id) for r in rows] == [
            (text.pk, Source.STAFF, member.pk),
            (proof.pk, Source.STAFF, member.pk),
            (note.pk, Source.STAFF, member.pk),
        ]
        [api_row] = actions.set_values(
            profile, actor=Actor.of_api_key(key), values=[(text, "Chef")]
        )
        assert (api_row.source, api_row.api_key_uuid, api_row.api_key_name) == (
            Source.API,
            key.uuid,
            key.name,
        )
        values = {v.field_id: v for v in FieldValue.objects.filter(profile=profile)}
        first = FieldValueHistory.objects.filter(field=note).earliest("id")
    assert first.source == Source.IMPORT
    assert set(values) == {text.pk, proof.pk}
    assert values[text.pk].value == "Chef"
    document = values[proof.pk].document
    assert document.name == "bill.pdf" and default_storage.exists(document.file.name)
    assert values[proof.pk].value == str(document.uuid)
    # Values leave their trace in the history, not in the audit log.
    with scopes_disabled():
        assert not AuditEntry.objects.exists()


def test_set_values_refuses_what_no_door_may_write(org, other_org, member) -> None:
    required = factories.field(org, "text", required=True)
    company_field = factories.field(org, "text", applies_to=Kind.COMPANY)
    archived = factories.field(org, "text", archived_at="2026-01-01T00:00Z")
    theirs = factories.field(other_org, "text")
    proof = factories.field(org, "document")
    profile = factories.contact(org)
    with scope(organization=org):
        actions.set_values(profile, actor=Actor.member(member), values=[(required, "x")])
        for kwargs in (
            {"removals": [required]},
            {"values": [(company_field, "x")]},
            {"values": [(archived, "x")]},
            {"values": [(required, "a"), (required, "b")]},
            {"values": [(proof, SimpleUploadedFile("x.pdf", b"not a pdf"))]},
        ):
            with pytest.raises(ValidationError) as refused:
                actions.set_values(profile, actor=Actor.member(member), **kwargs)
            assert set(refused.value.message_dict) == {"values"}, kwargs
        with pytest.raises(ValueError):
            actions.set_values(profile, actor=Actor.member(member), values=[(required, None)])
        with pytest.raises(ValueError):
            actions.set_values(profile, actor=Actor.of_client(profile), values=[(required, "y")])
    # Another organisation's field is not this profile's: a door that passed it is wrong.
    with scopes_disabled(), pytest.raises(ValueError):
        actions.set_values(profile, actor=Actor.member(member), values=[(theirs, "x")])
    with scopes_disabled():
        assert [v.value for v in FieldValue.objects.filter(profile=profile)] == ["x"]
        assert not Document.objects.exists()


def test_set_values_leaves_no_file_when_storage_or_the_write_fails(
    org, member, django_capture_on_commit_callbacks
) -> None:
    text = factories.field(org, "text")
    proof = factories.field(org, "document")
    profile = factories.contact(org)
    with scope(organization=org):
        with (
            mock.patch("profiles.services.store_file", side_effect=OSError("S3 down")),
            pytest.raises(StorageUnavailable),
        ):
            actions.set_values(
                profile, actor=Actor.member(member), values=[(text, "x"), (proof, _pdf())]
            )
        with (
            django_capture_on_commit_callbacks(execute=True),
            mock.patch("profiles.actions.apply_values", side_effect=RuntimeError("database")),
            pytest.raises(RuntimeError),
        ):
            actions.set_values(profile, actor=Actor.member(member), values=[(proof, _pdf())])
    with scopes_disabled():
        assert not FieldValue.objects.exists() and not Document.objects.exists()
        assert not PendingDeletion.objects.exists()  # recorded, then deleted on commit
    _dirs, files = default_storage.listdir("documents")
    assert files == []


def test_restore_value_puts_back_a_valid_earlier_value_and_says_so(org, member) -> None:
    colour = factories.field(org, "choice", choices=["Red", "Blue", "Green"])
    profile = factories.contact(org)
    with scope(organization=org):
        actor = Actor.member(member)
        actions.set_values(profile, actor=actor, values=[(colour, "Red")])
        [to_blue] = actions.set_values(profile, actor=actor, values=[(colour, "Blue")])
        [to_green] = actions.set_values(profile, actor=actor, values=[(colour, "Green")])
        [restored] = actions.restore_value(to_green, actor=actor)
        assert (restored.old_value, restored.new_value) == ("Green", "Blue")
        assert actions.restore_value(to_green, actor=actor) == []  # Blue already
        colour.choices = ["Blue", "Green"]
        colour.save()
        to_blue.field.refresh_from_db()
        with pytest.raises(ValidationError) as refused:
            actions.restore_value(to_blue, actor=actor)
        assert set(refused.value.message_dict) == {"value"}
        created = FieldValueHistory.objects.filter(field=colour).earliest("id")
        with pytest.raises(ValidationError):
            actions.restore_value(created, actor=actor)
        assert FieldValue.objects.get(profile=profile).value == "Blue"
    [entry] = _entries("profiles.value.restored")
    assert (entry.actor, entry.details["before"], entry.details["after"]) == (
        "member",
        "Green",
        "Blue",
    )


def test_download_document_is_audited_once_the_file_is_found(org, member) -> None:
    proof = factories.field(org, "document")
    profile = factories.contact(org, first_name="Ann", last_name="Lee")
    with scope(organization=org):
        actions.set_values(profile, actor=Actor.member(member), values=[(proof, _pdf())])
        document = Document.objects.select_related("profile").get()
        response = actions.download_document(document, actor=Actor.member(member))
        assert b"".join(response.streaming_content) == factories.PDF
        # The file only: a response's close() sends request_finished, which closes the
        # database connection under the test's transaction on PostgreSQL.
        response.file_to_stream.close()
        default_storage.delete(document.file.name)
        with pytest.raises(Http404):
            actions.download_document(_reload(document), actor=Actor.member(member))
    [entry] = _entries("profiles.document.downloaded")
    assert (entry.target, entry.details["profile"]) == ("bill.pdf", "Ann Lee")


# Data fields


def test_field_actions_keep_order_and_refuse_a_type_change_once_values_exist(
    org, owner, member
) -> None:
    first = factories.field(org, "text")
    with scope(organization=org):
        actor = Actor.member(owner)
        field = actions.create_field(
            DataField(organization=org, applies_to=Kind.CONTACT, label="Job", type="text"),
            actor=actor,
        )
        assert field.position == first.position + 1
        with pytest.raises(ValidationError) as refused:
            actions.create_field(
                DataField(organization=org, applies_to=Kind.CONTACT, label="L", type="choice"),
                actor=actor,
            )
        assert set(refused.value.message_dict) == {"choices"}
        actions.set_values(
            factories.contact(org), actor=Actor.member(member), values=[(field, "x")]
        )
        field.type = "number"
        with pytest.raises(ValidationError) as refused:
            actions.update_field(field, actor=actor, changed=["type"])
        assert set(refused.value.message_dict) == {"type"}
        field.type, field.label = "text", "Job title"
        actions.update_field(field, actor=actor, changed=["label"])
        assert actions.move_field(field, actor=actor, up=True)
        assert not actions.move_field(field, actor=actor, up=True)  # first already
        actions.archive_field(field, actor=actor)
        actions.archive_field(field, actor=actor)
        actions.restore_field(field, actor=actor)
        order = list(DataField.objects.filter(organization=org).values_list("pk", flat=True))
    assert order == [field.pk, first.pk]
    assert _reload(field).label == "Job title" and _reload(field).archived_at is None
    assert [e.action for e in _entries("profiles.field.created")] == ["profiles.field.created"]
    assert _entries("profiles.field.updated")[0].details == {"changed": "label"}
    assert len(_entries("profiles.field.archived")) == len(_entries("profiles.field.restored")) == 1


# Each verb's doors call its action.


def test_create_and_update_profile_doors_back_office_and_api(member_client, org) -> None:
    api = _key(org)[1]
    o = f"/o/{org.slug}"
    identity = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    with calls("create_profile") as created:
        assert (
            member_client.post(f"{o}/contacts/new/", {**identity, "language": "en"}).status_code
            == 302
        )
        assert (
            api.post(
                "/api/v1/profiles/",
                {**identity, "kind": "contact", "email": "b@example.com"},
                content_type="application/json",
            ).status_code
            == 201
        )
    assert created.call_count == 2
    with scopes_disabled():
        ann = Profile.objects.get(email="ann@example.com")
    with calls("update_profile") as updated:
        edit = {**identity, "email": "ann@new.example", "language": "fr"}
        assert member_client.post(f"{o}/profiles/{ann.uuid}/edit/", edit).status_code == 302
        assert (
            api.patch(
                f"/api/v1/profiles/{ann.uuid}/",
                {"phone": "+33 6 12 34 56 78"},
                content_type="application/json",
            ).status_code
            == 200
        )
    assert updated.call_count == 2
    assert [e.actor for e in _entries("profiles.profile.updated")] == ["member", "api_key"]


def test_archive_and_restore_profile_doors_back_office_and_api(member_client, org) -> None:
    api = _key(org)[1]
    profile = factories.contact(org)
    button = f"/o/{org.slug}/profiles/{profile.uuid}/archive/"
    with calls("archive_profile") as archived, calls("restore_profile") as restored:
        member_client.post(button)
        member_client.post(button)
        api.post(f"/api/v1/profiles/{profile.uuid}/archive/")
        api.post(f"/api/v1/profiles/{profile.uuid}/restore/")
    assert archived.call_count == restored.call_count == 2


def test_export_and_erase_profile_doors_back_office(owner_client, org) -> None:
    profile = factories.contact(org)
    o = f"/o/{org.slug}/profiles/{profile.uuid}/privacy"
    with calls("export_profile") as exported, calls("erase_profile") as erased:
        b"".join(owner_client.get(f"{o}/export/").streaming_content)
        assert owner_client.post(f"{o}/erase/", {"confirm": "on"}).status_code == 302
    assert exported.call_count == erased.call_count == 1


def test_set_values_doors_back_office_form_api_values_and_documents_and_demo_seed(
    member_client, org
) -> None:
    api = _key(org)[1]
    text = factories.field(org, "text")
    proof = factories.field(org, "document")
    profile = factories.contact(org)
    with calls("set_values") as wrote:
        member_client.post(
            f"/o/{org.slug}/profiles/{profile.uuid}/values/",
            {f"f_{text.uuid.hex}": "Baker", f"f_{proof.uuid.hex}": _pdf()},
        )
        api.patch(
            f"/api/v1/profiles/{profile.uuid}/values/",
            {"values": [{"field": str(text.uuid), "value": "Chef"}]},
            content_type="application/json",
        )
        api.post(
            f"/api/v1/profiles/{profile.uuid}/documents/",
            {"field": str(proof.uuid), "file": _pdf("new.pdf")},
        )
    assert wrote.call_count == 3
    with scopes_disabled():
        sources = list(FieldValueHistory.objects.order_by("id").values_list("source", flat=True))
    assert sources == ["staff", "staff", "api", "api"]
    with calls("set_values", where=demo) as seeded, scope(organization=org):
        demo.seed(org)
    assert seeded.call_count == 8  # four representatives' and uploads, two companies'
    assert all(c.kwargs["actor"].job == "seed_demo" for c in seeded.call_args_list)


def test_the_demo_documents_open_as_every_upload_must(org) -> None:
    """The demo's PDF had no cross-reference table: the upload check refused it."""
    with scope(organization=org):
        demo.seed(org)
        documents = list(Document.objects.all())
    assert documents
    for document in documents:
        with document.file.open("rb") as stored:
            content = stored.read()
        assert len(PdfReader(io.BytesIO(content)).pages) == 1
        upload = SimpleUploadedFile(document.name, content)
        assert check_upload(document.field, upload) == "application/pdf"


def test_restore_value_door_back_office_history(member_client, org) -> None:
    text = factories.field(org, "text")
    profile = factories.contact(org)
    with scope(organization=org):
        for value in ("Right", "Wrong"):
            actions.set_values(profile, actor=Actor.system("test"), values=[(text, value)])
        mistake = FieldValueHistory.objects.latest("id")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/history/{mistake.pk}/restore/"
    with calls("restore_value") as restored:
        assert member_client.post(url).status_code == 302
    assert restored.call_count == 1
    with scopes_disabled():
        assert FieldValue.objects.get(profile=profile).value == "Right"


def test_download_document_doors_back_office_and_api(member_client, org) -> None:
    api = _key(org)[1]
    proof = factories.field(org, "document")
    profile = factories.contact(org)
    with scope(organization=org):
        actions.set_values(profile, actor=Actor.system("test"), values=[(proof, _pdf())])
        document = Document.objects.get()
    with calls("download_document") as downloaded:
        assert member_client.get(f"/o/{org.slug}/documents/{document.uuid}/").status_code == 200
        assert api.get(f"/api/v1/documents/{document.uuid}/").status_code == 200
    assert downloaded.call_count == 2
    assert [e.actor for e in _entries("profiles.document.downloaded")] == ["member", "api_key"]


def test_field_doors_back_office_settings(owner_client, org) -> None:
    o = f"/o/{org.slug}/settings"
    with calls("create_field") as created:
        owner_client.post(
            f"{o}/fields/contacts/new/", {"label": "Job", "type": "text", "max_size_mb": 10}
        )
    with scopes_disabled():
        job = DataField.objects.get(label="Job")
    factories.field(org, "text", label="Before")
    edit = {"label": "Job title", "type": "text", "max_size_mb": 10, "section": ""}
    with (
        calls("update_field") as updated,
        calls("archive_field") as archived,
        calls("restore_field") as restored,
        calls("move_field") as moved,
    ):
        assert owner_client.post(f"{o}/field/{job.uuid}/", edit).status_code == 302
        owner_client.post(f"{o}/field/{job.uuid}/move/", {"direction": "down"})
        owner_client.post(f"{o}/field/{job.uuid}/archive/")
        owner_client.post(f"{o}/field/{job.uuid}/archive/")
    assert (created.call_count, updated.call_count, moved.call_count) == (1, 1, 1)
    assert archived.call_count == restored.call_count == 1
    assert _reload(job).label == "Job title"


# Whatever a door passes: all of it or none of it, one history row per change.

VALUES = {"text": ["a", "b"], "number": ["1", "2.5"], "choice": ["Red", "Blue"]}


def _on_file(profile: Profile) -> dict[int, Any]:
    return dict(FieldValue.objects.filter(profile=profile).values_list("field_id", "value"))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["text", "number", "choice", "required"]),
                st.one_of(st.none(), st.integers(0, 1)),
            ),
            max_size=4,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_set_values_writes_all_or_nothing_and_one_row_per_change(org, member, batches) -> None:
    fields = {
        "text": factories.field(org, "text"),
        "number": factories.field(org, "number"),
        "choice": factories.field(org, "choice", choices=["Red", "Blue"]),
        "required": factories.field(org, "text", required=True),
    }
    profile = factories.contact(org, email=f"{len(batches)}-{id(batches)}@example.com")
    with scope(organization=org):
        for batch in batches:
            before = _on_file(profile)
            rows_before = FieldValueHistory.objects.filter(profile=profile).count()
            values = [
                (fields[name], VALUES.get(name, VALUES["text"])[pick])
                for name, pick in batch
                if pick is not None
            ]
            removals = [fields[name] for name, pick in batch if pick is None]
            names = [name for name, _pick in batch]
            refused = len(set(names)) != len(names) or fields["required"] in removals
            try:
                actions.set_values(
                    profile, actor=Actor.member(member), values=values, removals=removals
                )
            except ValidationError:
                assert refused
            else:
                assert not refused
            after = dict(
                FieldValue.objects.filter(profile=profile).values_list("field_id", "value")
            )
            rows = FieldValueHistory.objects.filter(profile=profile).count() - rows_before
            if refused:
                assert (after, rows) == (before, 0)
                continue
            expected = dict(before)
            for field, value in values:
                expected[field.pk] = value
            for field in removals:
                expected.pop(field.pk, None)
            assert after == expected
            assert rows == sum(1 for f, v in values if before.get(f.pk) != v) + sum(
                1 for f in removals if f.pk in before
            )
