from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from organizations.models import Organization
from profiles.selectors import active_q, archived_q
from profiles.texts import Translatable, reader_language

EXPIRY_WARNING_DAYS = 30


class Kind(models.TextChoices):
    CONTACT = "contact", _("Contact")
    COMPANY = "company", _("Company")


def url_kind_of(kind: str) -> str:
    """The word for a kind in URLs: /contacts/, /companies/."""
    return "companies" if kind == Kind.COMPANY else "contacts"


class ProfileQuerySet(models.QuerySet["Profile"]):
    """The filters every list of profiles shares: the back office, the exports and the API."""

    def active(self) -> ProfileQuerySet:
        return self.filter(active_q())

    def archived(self) -> ProfileQuerySet:
        return self.filter(archived_q())

    def of_kind(self, kind: str) -> ProfileQuerySet:
        return self.filter(kind=kind)

    def representatives(self) -> ProfileQuerySet:
        return self.filter(is_representative=True)

    def search(self, query: str) -> ProfileQuerySet:
        """Every word must match a contact's names or e-mail, or a company's name or number."""
        queryset = self
        for word in query.split()[:5]:
            queryset = queryset.filter(
                Q(kind=Kind.CONTACT)
                & (
                    Q(first_name__icontains=word)
                    | Q(last_name__icontains=word)
                    | Q(email__icontains=word)
                )
                | Q(kind=Kind.COMPANY)
                & (Q(name__icontains=word) | Q(registration_number__icontains=word))
            )
        return queryset

    def meeting(self, conditions: list[dict], fields: list[DataField]) -> ProfileQuerySet:
        """Those meeting every condition (`profiles.conditions`, clean) on `fields`."""
        from profiles.conditions import conditions_q

        return self.filter(conditions_q(conditions, fields)) if conditions else self

    def in_list_order(self) -> ProfileQuerySet:
        return self.order_by("kind", "last_name", "first_name", "name", "id")


class Profile(models.Model):
    """A client of the organisation: a contact (a person) or a company."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    # A contact's identity.
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    company = models.ForeignKey(
        "self",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        limit_choices_to={"kind": Kind.COMPANY},
    )
    is_representative = models.BooleanField(
        _("represents the company"),
        default=False,
        help_text=_("Representatives receive the company's requests."),
    )
    # A company's identity.
    name = models.CharField(_("company name"), max_length=200, blank=True)
    registration_number = models.CharField(_("registration number"), max_length=60, blank=True)
    address = models.TextField(_("address"), blank=True)
    # The client's key in the organisation's own records (a CRM's id): an import finds the
    # profile by it, so importing a file twice changes nothing the second time.
    # A database default too: raw inserts (the benchmarks' seeding) name only what they know.
    external_reference = models.CharField(
        _("external reference"), max_length=100, blank=True, default="", db_default=""
    )

    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(
        organization="organization", _manager_class=models.Manager.from_queryset(ProfileQuerySet)
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        indexes = [
            models.Index(fields=["organization", "kind", "last_name", "first_name"]),
            models.Index(fields=["organization", "kind", "name"]),
            # The compliance overview's order, contacts and companies together; a run's
            # outstanding list reads its rows in this order too (monitoring.followup).
            models.Index(
                fields=["organization", "last_name", "name", "first_name", "id"],
                name="profiles_in_overview_order",
            ),
            # The API's cursor pages, newest first (api.pagination.NewestFirst).
            models.Index(
                fields=["organization", "-created_at", "-id"], name="profile_newest_first"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="contact") | Q(company__isnull=True, is_representative=False),
                name="only_contacts_belong_to_a_company",
            ),
            models.UniqueConstraint(
                fields=["organization", "kind", "external_reference"],
                condition=~Q(external_reference=""),
                name="one_profile_per_external_reference",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def audit_subjects(self) -> list[tuple[str, str]]:
        """Who an audit entry about this profile concerns (organizations.models.AuditSubject)."""
        return [("profile", str(self.uuid))]

    @property
    def display_name(self) -> str:
        if self.kind == Kind.COMPANY:
            return self.name
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def greeting_name(self) -> str:
        """Who an e-mail greets: a person by their first name ("Hello Claire,"); a company,
        or a person whose first name is unknown, gets a greeting without a name."""
        return self.first_name.strip() if self.kind == Kind.CONTACT else ""

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def url_kind(self) -> str:
        return url_kind_of(self.kind)


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    CHOICE = "choice", _("List")
    BOOLEAN = "boolean", _("Yes/no")
    DOCUMENT = "document", _("Document")


DOCUMENT_TYPES = {
    "pdf": ("application/pdf", _("PDF")),
    "jpeg": ("image/jpeg", _("JPEG image")),
    "png": ("image/png", _("PNG image")),
    "webp": ("image/webp", _("WebP image")),
    "heic": ("image/heic", _("HEIC image")),
}
DEFAULT_DOCUMENT_TYPES = ["pdf", "jpeg", "png"]


def default_document_types() -> list[str]:
    return list(DEFAULT_DOCUMENT_TYPES)


class DataFieldQuerySet(models.QuerySet["DataField"]):
    def active(self) -> DataFieldQuerySet:
        return self.filter(active_q())

    def archived(self) -> DataFieldQuerySet:
        return self.filter(archived_q())

    def of_kind(self, kind: str) -> DataFieldQuerySet:
        return self.filter(applies_to=kind)


class DataField(Translatable, models.Model):
    """A field the organisation defines for its contacts or its companies."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    applies_to = models.CharField(_("for"), max_length=10, choices=Kind.choices)
    label = models.CharField(_("label"), max_length=150)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    section = models.CharField(
        _("section"), max_length=80, blank=True, help_text=_("Fields of one section show together.")
    )
    type = models.CharField(_("type"), max_length=12, choices=FieldType.choices)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    accepted_types = models.JSONField(
        _("accepted file types"), default=default_document_types, blank=True
    )
    max_size_mb = models.PositiveIntegerField(_("maximum size (MB)"), default=10)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    # Label, help text and choice labels in the organisation's other languages (profiles.texts).
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(
        organization="organization",
        _manager_class=models.Manager.from_queryset(DataFieldQuerySet),
    )

    class Meta:
        verbose_name = _("data field")
        verbose_name_plural = _("data fields")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "applies_to", "position"])]
        constraints = [
            # What another app's table references to hold a field to one organisation and
            # type (monitoring's GroupField, on PostgreSQL).
            models.UniqueConstraint(
                fields=["id", "organization", "applies_to"], name="field_id_org_type"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_document(self) -> bool:
        return self.type == FieldType.DOCUMENT

    @property
    def local_label(self) -> str:
        return self.translated("label")

    @property
    def local_help_text(self) -> str:
        return self.translated("help_text")

    @property
    def local_section(self) -> str:
        return self.translated("section")

    def choice_label(self, value: str) -> str:
        """A stored choice as the reader reads it; the value itself never changes."""
        return choice_label(self.translations, value)

    @property
    def max_size_bytes(self) -> int:
        return self.max_size_mb * 1024 * 1024


def choice_label(translations: dict[str, Any] | None, value: str) -> str:
    labels = (translations or {}).get(reader_language(), {}).get("choices") or {}
    return labels.get(value) or value


def field_in_use(field: DataField) -> bool:
    """Whether any value of the field is kept: on a profile, in its history, or in another
    app's rows (each app answers through `AppConfig.field_in_use`, so none is imported)."""
    if field.values.exists() or field.history.exists():
        return True
    return any(
        config.field_in_use(field)
        for config in apps.get_app_configs()
        if hasattr(config, "field_in_use")
    )


def document_key(instance: Document | None, filename: str) -> str:
    # The key reveals neither the tenant, the client nor the file's name, and cannot be guessed;
    # it keeps only the extension, which the caller set from the sniffed type.
    extension = os.path.splitext(filename)[1].lower()
    return f"documents/{secrets.token_hex(20)}{extension}"


class Document(models.Model):
    """An uploaded file. Never deleted while a value or a history row refers to it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="documents")
    field = models.ForeignKey(DataField, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=document_key, max_length=200)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.name


class FieldValue(models.Model):
    """The current value of one field on one profile."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="values")
    field = models.ForeignKey(DataField, on_delete=models.CASCADE, related_name="values")
    # The canonical form of the value (see profiles.fieldtypes); a document's is its UUID.
    value = models.JSONField(null=True)
    document = models.ForeignKey(Document, null=True, on_delete=models.PROTECT, related_name="+")
    expires_on = models.DateField(_("expiry date"), null=True, blank=True)
    # The last fresh answer (a new value, a new upload, or a confirmation) from a client,
    # and the last explicit "still correct": what a compliance review asks for first.
    last_evidenced_at = models.DateTimeField(_("last evidenced on"), null=True, blank=True)
    last_confirmed_at = models.DateTimeField(_("last confirmed on"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "field"], name="one_value_per_field"),
        ]
        indexes = [
            models.Index(
                fields=["expires_on"],
                name="value_expires_on",
                condition=Q(expires_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.value}"

    def expiry_status(self, today: dt.date) -> str | None:
        return expiry_status(self.expires_on, today)


def expiry_status(expires_on: dt.date | None, today: dt.date) -> str | None:
    if expires_on is None:
        return None
    if expires_on < today:
        return "expired"
    if expires_on <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


class Source(models.TextChoices):
    STAFF = "staff", _("Staff edit")
    DOSSIER = "dossier", _("Dossier")
    IMPORT = "import", _("Import")
    API = "api", _("API")


class HistoryKind(models.TextChoices):
    CHANGE = "change", _("Changed")
    CONFIRMATION = "confirmation", _("Confirmed unchanged")
    # A fresh answer equal to the value on file (set meanwhile by staff, say): evidence,
    # but not the client's "still correct".
    ANSWER = "answer", _("Answered with the value on file")


class FieldValueHistory(models.Model):
    """One change of one value. Appended on every change, never updated or deleted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    # Indexed first in the history's indexes (Meta.indexes): no index of its own.
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="history", db_index=False
    )
    field = models.ForeignKey(DataField, on_delete=models.CASCADE, related_name="history")
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    old_document = models.ForeignKey(
        Document, null=True, on_delete=models.PROTECT, related_name="+"
    )
    new_document = models.ForeignKey(
        Document, null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(
        _("event"), max_length=12, choices=HistoryKind.choices, default=HistoryKind.CHANGE
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # Who gave the value: a staff member (`user`), a client (`recipient`), a staff member
    # on a client's behalf (both, with `on_behalf`), or an API key; and who accepted it
    # after review (a member, `approved_by`, or an API key).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.ForeignKey(Profile, null=True, on_delete=models.SET_NULL, related_name="+")
    on_behalf = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The API key as named when it wrote (as the audit log names it), and its UUID: the api
    # app sits to the right of profiles, so the row keeps what it shows rather than a
    # foreign key read upward. Keys are revoked, never deleted.
    api_key_uuid = models.UUIDField(null=True, blank=True)
    api_key_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    # The dossier behind a write-back, by UUID: it outlives the dossier's purge and joins
    # the purge's DossierRecord, so the history links to the dossier or to its record.
    dossier_uuid = models.UUIDField(null=True, blank=True)
    # For an answer from a dossier: the address its link was e-mailed to (the history says
    # "answered through a link sent to …"; four eyes in dossiers.review rest on it).
    via = models.EmailField(blank=True, default="", db_default="")
    # An imported value names its import (imports.ImportJob's uuid) and the file's name, which
    # stays readable whatever becomes of the import's own row.
    import_uuid = models.UUIDField(null=True, blank=True)
    import_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("value history")
        verbose_name_plural = _("value history")
        ordering = ["-changed_at", "-id"]
        # The history page's order (newest first, then id), of a profile and of one of its
        # fields: a page reads its rows from the index (keyset pages, organizations.keyset),
        # however many years the organisation's history holds.
        indexes = [
            models.Index(fields=["profile", "changed_at", "id"], name="history_profile_at"),
            models.Index(
                fields=["profile", "field", "changed_at", "id"], name="history_profile_field_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} → {self.new_value}"


class PendingDeletion(models.Model):
    """A file in storage that no row points to any more, waiting to be deleted.

    Recorded in the transaction that stops referencing the file, deleted after it commits;
    if storage fails, the sweep (`profiles.tasks.delete_pending_files`) tries again, so no
    file is ever left that nothing points to. Holds storage keys only, no tenant data.
    """

    key = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.key
