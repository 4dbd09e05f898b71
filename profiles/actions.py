"""The verbs of the profiles app: profiles, their values and documents, and data fields.

Every door (the back office, the API, the demo seed) parses its input and calls one of these;
each validates, writes in a transaction, and records its audit entry through the actor. A
value's own record is its history row (profiles.services.apply_values), which names the
actor too: setting values writes no audit entry, restoring an earlier one does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.actors import Actor, ActorKind
from organizations.models import Organization
from profiles import audit as audit_actions
from profiles import fieldtypes, privacy
from profiles.downloads import serve_document
from profiles.models import (
    DataField,
    Document,
    FieldType,
    FieldValue,
    FieldValueHistory,
    HistoryKind,
    Kind,
    Profile,
    Source,
    field_in_use,
)
from profiles.services import NewValue, apply_values, delete_stored, new_document, store_uploads
from profiles.signals import identity_changed
from profiles.uploads import check_upload

# A profile's identity, by kind: what create_profile and update_profile accept.
IDENTITY = {
    Kind.CONTACT: (
        "first_name",
        "last_name",
        "email",
        "phone",
        "language",
        "company",
        "is_representative",
    ),
    # A company has a language too (the API sets it, as it always could; the back office's
    # company form does not show it).
    Kind.COMPANY: ("name", "registration_number", "address", "language"),
}
REQUIRED = {Kind.CONTACT: ("last_name", "email"), Kind.COMPANY: ("name",)}


# Profiles


def create_profile(
    *, organization: Organization, actor: Actor, kind: str, identity: Mapping[str, Any]
) -> Profile:
    """A new contact or company of `organization`, with the identity given; its language is
    the organisation's unless the identity names one."""
    if kind not in Kind.values:
        message = forms.ChoiceField.default_error_messages["invalid_choice"]
        raise ValidationError({"kind": str(message) % {"value": kind}})
    # Unless told otherwise, a new client reads the organisation's language, not the
    # column's default.
    profile = Profile(organization=organization, kind=kind, language=organization.default_language)
    _check_identity(profile, identity, kept_company_id=None)
    with transaction.atomic():
        _set_identity(profile, identity)
        profile.save()
        actor.audit(organization, audit_actions.PROFILE_CREATED, profile, kind=profile.kind)
        identity_changed.send(Profile, profile=profile, actor=actor, changed=list(identity))
    return profile


def update_profile(profile: Profile, *, actor: Actor, identity: Mapping[str, Any]) -> Profile:
    """Changes the identity given, the rest kept; the audit entry names what changed, and the
    e-mail before and after (it decides where the client's requests go)."""
    # Read from the database: a door's model form has already set the new values on the
    # instance it was given.
    columns = {name: "company_id" if name == "company" else name for name in identity}
    with transaction.atomic():
        before = Profile.objects.filter(pk=profile.pk).values("company_id", *columns.values()).get()
        _check_identity(profile, identity, kept_company_id=before["company_id"])
        _set_identity(profile, identity)
        # The links this change revokes (dossiers.revocation) are revoked by this actor.
        with actor.acting():
            profile.save()
        changed = [
            name for name, column in columns.items() if getattr(profile, column) != before[column]
        ]
        if changed:
            details: dict[str, Any] = {"changed": ", ".join(changed)}
            if "email" in changed:
                details.update(email_before=before["email"], email_after=profile.email)
            actor.audit(profile.organization, audit_actions.PROFILE_UPDATED, profile, **details)
            identity_changed.send(Profile, profile=profile, actor=actor, changed=changed)
    return profile


def _check_identity(
    profile: Profile, identity: Mapping[str, Any], *, kept_company_id: int | None
) -> None:
    own = IDENTITY[Kind(profile.kind)]
    # The other kind's own fields; the language belongs to both.
    other = [
        name
        for name in IDENTITY[Kind.COMPANY if profile.kind == Kind.CONTACT else Kind.CONTACT]
        if name not in own
    ]
    unknown = set(identity) - set(own) - set(other)
    if unknown:
        raise ValueError(f"not a profile's identity: {', '.join(sorted(unknown))}")

    def final(name: str) -> Any:
        return identity[name] if name in identity else getattr(profile, name)

    errors: dict[str, list[str]] = {}
    for name in other:
        if identity.get(name):
            errors[name] = [_("A %(kind)s has no such field.") % {"kind": Kind(profile.kind).label}]
    for name in REQUIRED[Kind(profile.kind)]:
        if not final(name):
            errors.setdefault(name, []).append(str(forms.Field.default_error_messages["required"]))
    if profile.kind == Kind.CONTACT:
        company: Profile | None = identity.get("company")
        # An archived company takes no new contacts; one kept from before stays.
        if (
            company is not None
            and company.pk != kept_company_id
            and (
                company.organization_id != profile.organization_id
                or company.kind != Kind.COMPANY
                or company.is_archived
            )
        ):
            errors.setdefault("company", []).append(
                str(forms.ModelChoiceField.default_error_messages["invalid_choice"])
            )
        if final("is_representative") and not final("company"):
            errors.setdefault("is_representative", []).append(
                _("Choose the company this contact represents.")
            )
    if errors:
        raise ValidationError(errors)


def _set_identity(profile: Profile, identity: Mapping[str, Any]) -> None:
    for name in IDENTITY[Kind(profile.kind)]:
        if name in identity:
            setattr(profile, name, identity[name])


def archive_profile(profile: Profile, *, actor: Actor) -> Profile:
    """The profile leaves the lists and receives no more requests; its data is kept. An
    archived profile stays as it is."""
    if not profile.is_archived:
        with transaction.atomic():
            profile.archived_at = timezone.now()
            with actor.acting():
                profile.save(update_fields=["archived_at", "updated_at"])
            actor.audit(profile.organization, audit_actions.PROFILE_ARCHIVED, profile)
    return profile


def restore_profile(profile: Profile, *, actor: Actor) -> Profile:
    """An archived profile is active again; an active one stays as it is."""
    if profile.is_archived:
        with transaction.atomic():
            profile.archived_at = None
            profile.save(update_fields=["archived_at", "updated_at"])
            actor.audit(profile.organization, audit_actions.PROFILE_RESTORED, profile)
    return profile


def export_profile(profile: Profile, *, actor: Actor) -> tempfile.SpooledTemporaryFile[bytes]:
    """Everything held about the person, every app's, as a zip; a read that is audited."""
    archive, files = privacy.export_zip(profile)
    actor.audit(
        profile.organization,
        audit_actions.PROFILE_EXPORTED,
        profile.display_name,
        about=[profile],
        files=files,
    )
    return archive


def erase_profile(profile: Profile, *, actor: Actor) -> int:
    """Deletes the person's files, then every row about them; returns the files deleted.

    Files go first: if storage fails (privacy.StorageUnreachable), nothing is erased and the
    admin tries again; if the database fails after, the rows still name files already gone,
    and a second erasure finishes the job. Either way no file outlives the erasure.
    """
    organization, kind = profile.organization, profile.kind
    files = privacy.delete_files(profile)
    with transaction.atomic():
        privacy.delete_rows(profile)
        # What stays says that an erasure happened, never whose.
        actor.audit(organization, audit_actions.PROFILE_ERASED, kind, files=files)
    return files


# Values and documents


def _writer(actor: Actor) -> tuple[Source, dict[str, Any]]:
    """The source and the person a history row names for this actor."""
    if actor.kind == ActorKind.MEMBER:
        return Source.STAFF, {"user": actor.user}
    if actor.kind == ActorKind.API_KEY:
        key = actor.api_key
        return Source.API, {"api_key_uuid": key.uuid, "api_key_name": key.name}
    if actor.kind == ActorKind.SYSTEM:
        return Source.IMPORT, {}
    # A client's answers wait in their dossier, and reach the profile by its write-back.
    raise ValueError("a client's answers reach the profile through their dossier")


def set_values(
    profile: Profile,
    *,
    actor: Actor,
    values: Sequence[tuple[DataField, Any]] = (),
    removals: Sequence[DataField] = (),
) -> list[FieldValueHistory]:
    """Writes `values` (field, canonical value, or the upload of a document field) and removes
    the values of `removals`; returns the history rows of what changed.

    Uploads are checked by content (unless the door's form did), stored before the
    transaction (slow I/O; profiles.services.StorageUnavailable when storage is down, nothing
    written), become the profile's documents and its values; the stored files are deleted
    if anything fails after. All or nothing.
    """
    source, writer = _writer(actor)
    _check_values(profile, values, removals)
    uploads: dict[int, UploadedFile[Any]] = {}
    for field, upload in values:
        if field.is_document:
            if not hasattr(upload, "sniffed_content_type"):
                try:
                    upload.sniffed_content_type = check_upload(field, upload)
                except ValidationError as error:
                    raise ValidationError({"values": error.messages}) from None
            uploads[field.pk] = upload
    stored = store_uploads(uploads)
    try:
        with transaction.atomic():
            new_values = []
            for field, value in values:
                if field.is_document:
                    document = new_document(profile, field, stored[field.pk])
                    new_values.append(NewValue(field, str(document.uuid), document))
                else:
                    new_values.append(NewValue(field, value))
            new_values += [NewValue(field, None, remove=True) for field in removals]
            return apply_values(profile, new_values, source=source, **writer)
    except Exception:
        delete_stored(stored.values())
        raise


def _check_values(
    profile: Profile, values: Sequence[tuple[DataField, Any]], removals: Sequence[DataField]
) -> None:
    fields = [field for field, _value in values] + list(removals)
    if any(field.organization_id != profile.organization_id for field in fields):
        raise ValueError("a field of another organisation")
    for field, value in values:
        if field.is_document != isinstance(value, UploadedFile):
            raise ValueError(f"field {field.pk}: a document field takes an upload, and only it")
    errors: list[str] = []
    if len({field.pk for field in fields}) != len(fields):
        errors.append(_("Each field may appear once."))
    if any(field.applies_to != profile.kind for field in fields):
        errors.append(_("This field is not a field of this profile's type."))
    if any(field.archived_at is not None for field in fields):
        errors.append(_("This field is archived: restore it first."))
    if any(field.required for field in removals):
        errors.append(_("This field is required: its value cannot be removed."))
    if errors:
        raise ValidationError({"values": errors})


def restorable(row: FieldValueHistory) -> bool:
    """A change whose earlier value can be put back: the way back from a mistaken edit or
    approval. A change that created the value has nothing earlier: removing it is the values
    form's "Remove this value"."""
    return (
        row.kind == HistoryKind.CHANGE
        and row.old_value is not None
        and row.field.archived_at is None
        and (not row.field.is_document or row.old_document_id is not None)
    )


def restore_refusal(row: FieldValueHistory) -> str | None:
    """Why the earlier value is no longer a valid value of its field (a choice taken off the
    list since), or None: a restore is a door like any other."""
    field = row.field
    if field.is_document:
        return None
    form_field = fieldtypes.form_field(field, required=True, value=row.old_value)
    try:
        form_field.clean(fieldtypes.to_initial(field, row.old_value))
    except ValidationError as error:
        return " ".join(error.messages)
    return None


def shown(field: DataField, value: Any, document: Document | None) -> str:
    """A value as the history and the restore page show it: a document by its name."""
    return document.name if document is not None else fieldtypes.display(field, value)


def restore_value(row: FieldValueHistory, *, actor: Actor) -> list[FieldValueHistory]:
    """Puts back the value `row` replaced; recorded in the history like any change, and
    audited. Returns the history rows: none when the value on file is that one already."""
    if not restorable(row):
        raise ValidationError({"value": _("This change has no earlier value to put back.")})
    refusal = restore_refusal(row)
    if refusal is not None:
        raise ValidationError({"value": refusal})
    profile, field = row.profile, row.field
    source, writer = _writer(actor)
    with transaction.atomic():
        current = (
            FieldValue.objects.filter(profile=profile, field=field)
            .select_related("document")
            .first()
        )
        rows = apply_values(
            profile,
            [NewValue(field, row.old_value, row.old_document)],
            source=source,
            **writer,
        )
        if rows:
            actor.audit(
                profile.organization,
                audit_actions.VALUE_RESTORED,
                f"{profile.display_name} — {field.label}",
                about=[profile],
                before=shown(field, current.value, current.document) if current else "",
                after=shown(field, row.old_value, row.old_document),
                replaced_on=row.changed_at,
            )
    return rows


def download_document(document: Document, *, actor: Actor, inline: bool = False) -> FileResponse:
    """The document as a response (shown in the page where it can be, with `inline`); a read
    that is audited, once the file is found."""
    response = serve_document(document, inline=inline)
    actor.audit(
        document.profile.organization,
        audit_actions.DOCUMENT_DOWNLOADED,
        document.name,
        about=[document.profile],
        document=document.uuid,
        profile=document.profile.display_name,
    )
    return response


# Data fields


def _check_field(field: DataField) -> None:
    if field.applies_to not in Kind.values:
        raise ValueError(f"a data field applies to contacts or companies, not {field.applies_to}")
    errors: dict[str, str] = {}
    if field.type == FieldType.CHOICE and not field.choices:
        errors["choices"] = _("A list needs at least one choice.")
    if field.type == FieldType.DOCUMENT and not field.accepted_types:
        errors["accepted_types"] = _("Accept at least one file type.")
    if not 1 <= field.max_size_mb <= 50:
        errors["max_size_mb"] = _("Choose a size between 1 and 50 MB.")
    if errors:
        raise ValidationError(errors)


def create_field(field: DataField, *, actor: Actor) -> DataField:
    """Saves a new data field (built, unsaved, by the door) last of its kind's fields."""
    _check_field(field)
    with transaction.atomic():
        last = (
            DataField.objects.filter(
                organization_id=field.organization_id, applies_to=field.applies_to
            )
            .order_by("-position")
            .first()
        )
        field.position = (last.position + 1) if last else 0
        field.save()
        actor.audit(field.organization, audit_actions.FIELD_CREATED, field, type=field.type)
    return field


def update_field(field: DataField, *, actor: Actor, changed: Sequence[str]) -> DataField:
    """Saves a data field changed by the door; `changed` names what the person changed."""
    _check_field(field)
    stored_type = DataField.objects.filter(pk=field.pk).values_list("type", flat=True).get()
    if field.type != stored_type and field_in_use(field):
        # Values already stored were validated for their type; a new one would strand them.
        raise ValidationError({"type": _("The type cannot change once values are stored.")})
    with transaction.atomic():
        field.save()
        actor.audit(
            field.organization, audit_actions.FIELD_UPDATED, field, changed=", ".join(changed)
        )
    return field


def archive_field(field: DataField, *, actor: Actor) -> DataField:
    """The field leaves forms and pages; its values and history are kept."""
    if field.archived_at is None:
        with transaction.atomic():
            field.archived_at = timezone.now()
            field.save(update_fields=["archived_at"])
            actor.audit(field.organization, audit_actions.FIELD_ARCHIVED, field)
    return field


def restore_field(field: DataField, *, actor: Actor) -> DataField:
    if field.archived_at is not None:
        with transaction.atomic():
            field.archived_at = None
            field.save(update_fields=["archived_at"])
            actor.audit(field.organization, audit_actions.FIELD_RESTORED, field)
    return field


def move_field(field: DataField, *, actor: Actor, up: bool) -> bool:
    """Swaps the field with its neighbour among its kind's active fields; whether it moved.
    The order is what every form and export shows: the move is audited."""
    siblings = list(
        DataField.objects.active().filter(
            organization_id=field.organization_id, applies_to=field.applies_to
        )
    )
    index = next((i for i, f in enumerate(siblings) if f.pk == field.pk), None)
    step = -1 if up else 1
    if index is None or not 0 <= index + step < len(siblings):
        return False
    siblings[index], siblings[index + step] = siblings[index + step], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    with transaction.atomic():
        DataField.objects.bulk_update(siblings, ["position"])
        actor.audit(
            field.organization,
            audit_actions.FIELD_MOVED,
            field,
            position=index + step + 1,
            of=len(siblings),
        )
    return True
