"""An import of contacts or companies from a file, and the mappings people save for reuse."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from organizations.models import Organization
from profiles.models import Kind, Profile


def import_key(instance: ImportJob | None, filename: str) -> str:
    # Like a document's: the key names neither the tenant nor the file.
    return f"imports/{secrets.token_hex(20)}"


class ImportJob(models.Model):
    """One file on its way in: uploaded, mapped, tried (the dry run), then imported."""

    class Status(models.TextChoices):
        MAPPING = "mapping", _("To map")
        TRYING = "trying", _("Being tried")
        PREVIEWED = "previewed", _("Tried")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=import_key, max_length=200)
    filename = models.CharField(_("file"), max_length=200)
    # Column number → target (imports.mapping), and the options the mapping page asked.
    mapping = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.MAPPING
    )
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # The dry run's findings, kept for its page: counts and the first changes.
    preview = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED)

    @property
    def is_working(self) -> bool:
        """A task has the job in hand: its page follows the progress."""
        return self.status in (self.Status.TRYING, self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        return int(100 * self.rows_done / self.total_rows) if self.total_rows else 0


class RowError(models.Model):
    """One refusal of the last try or run: a row (its line), a cell (and its column), or the
    file (neither). Replaced at each try, so they always describe the file as it is mapped."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField(null=True)
    column = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["line", "id"]

    def __str__(self) -> str:
        return f"{self.line}: {self.message}"


class SavedMapping(models.Model):
    """A mapping kept by name: column heading → target, for the next file of the same shape."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    columns = models.JSONField(default=dict)
    # The options of the mapping page kept with it: for companies, the data field that
    # matches a row without a reference (`match_field`, its uuid).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "name"], name="one_saved_mapping_per_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def export_key(instance: ExportJob | None, filename: str) -> str:
    # Like an import's: the key names neither the tenant nor the people in the file.
    return f"exports/{secrets.token_hex(20)}"


class ExportJob(models.Model):
    """Contacts or companies written to a file in the background, for one member to
    download; kept a day (`imports.tasks.purge_exports`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Preparing")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    # The reader's language: the headings and yes/no cells are written in it.
    language = models.CharField(max_length=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_key, max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Moved with the progress: a job running that has not moved for a while lost its worker.
    touched_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.filename

    @property
    def filename(self) -> str:
        name = "contacts" if self.kind == Kind.CONTACT else "companies"
        return f"{name}.{self.format}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.rows_done / self.total_rows) if self.total_rows else 0


class ImportedRow(models.Model):
    """What the last import of a profile read and left: a digest of the row's cells (with
    the mapping that read them) and one of the values it left on file for them.

    The next import of the same cells, finding the values on file still those (no staff
    edit, answer or API call since), counts the row unchanged without validating it again;
    anything else is read and checked as any row (imports.digests)."""

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    read = models.CharField(max_length=32)
    left = models.CharField(max_length=32)

    objects = ScopedManager(organization="organization")

    def __str__(self) -> str:
        return self.read
