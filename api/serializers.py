"""What the API reads and writes. Objects are named by UUID; database ids never leave."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dossiers.models import Dossier, DossierItem, ItemReview
from monitoring.models import MAX_TRIGGER_DAILY_LIMIT, UpdateGroup, UpdateRun
from monitoring.services import field_problems
from profiles import fieldtypes
from profiles.conditions import OPERATORS
from profiles.models import DataField, FieldType, FieldValue, Kind, Profile
from profiles.selectors import active_q
from profiles.uploads import check_upload

MAX_VALUES = 500
CONTACT_ONLY = ("first_name", "last_name", "email", "phone", "company", "is_representative")
COMPANY_ONLY = ("name", "registration_number", "address")


class OrganizationUUIDField(serializers.SlugRelatedField[Any]):
    """An object of the caller's organisation, named by its UUID; another's does not exist."""

    def __init__(self, model: type[Model], *, filters: Q | None = None, **kwargs: Any):
        self.model = model
        self.filters = filters or Q()
        kwargs.setdefault("slug_field", "uuid")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        organization = self.context["request"].organization
        return self.model._default_manager.filter(self.filters, organization=organization)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except DjangoValidationError:
            # A malformed UUID is an object that does not exist, said on the field.
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data))


def single_line(value: str) -> None:
    """Names reach e-mail subjects and CSV cells: no line break or control character."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise serializers.ValidationError(_("Enter a single line of text."), code="invalid")


def _required() -> serializers.ErrorDetail:
    return serializers.ErrorDetail(str(_("This field is required.")), code="required")


class ProfileSerializer(serializers.ModelSerializer[Profile]):
    company = OrganizationUUIDField(
        Profile,
        filters=active_q() & Q(kind=Kind.COMPANY),
        required=False,
        allow_null=True,
        help_text=_("A contact's company (its UUID)."),
    )

    class Meta:
        model = Profile
        fields = [
            "uuid",
            "kind",
            "first_name",
            "last_name",
            "email",
            "phone",
            "language",
            "company",
            "is_representative",
            "name",
            "registration_number",
            "address",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["uuid", "archived_at", "created_at", "updated_at"]
        extra_kwargs = {
            "phone": {"validators": [fieldtypes.phone_validator]},
            **{
                name: {"validators": [single_line]}
                for name in ("first_name", "last_name", "name", "registration_number")
            },
        }

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError(_("The type of a profile cannot change."))
        return kind

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        kind = data.get("kind") or (instance.kind if instance else None)
        if kind is None:
            raise serializers.ValidationError({"kind": [_required()]})

        def final(name: str) -> Any:
            return data[name] if name in data else getattr(instance, name, None)

        errors: dict[str, list[Any]] = {}
        if isinstance(self.initial_data, dict) and "values" in self.initial_data:
            # Left to DRF, an unknown key is ignored: the client would believe them saved.
            errors["values"] = [_("A profile's values are set with PATCH …/values/.")]
        other = COMPANY_ONLY if kind == Kind.CONTACT else CONTACT_ONLY
        for name in other:
            if data.get(name):
                errors[name] = [_("A %(kind)s has no such field.") % {"kind": Kind(kind).label}]
        required = ("last_name", "email") if kind == Kind.CONTACT else ("name",)
        for name in required:
            if not final(name):
                errors.setdefault(name, []).append(_required())
        if kind == Kind.CONTACT and final("is_representative") and not final("company"):
            errors.setdefault("is_representative", []).append(
                _("Choose the company this contact represents.")
            )
        if errors:
            raise serializers.ValidationError(errors)
        return data


class ValueSerializer(serializers.ModelSerializer[FieldValue]):
    field = serializers.UUIDField(source="field.uuid", read_only=True)
    label = serializers.CharField(source="field.label", read_only=True)  # type: ignore[assignment]
    type = serializers.CharField(source="field.type", read_only=True)
    value = serializers.JSONField(
        read_only=True,
        help_text=_(
            "The canonical form: text as a string, a number as a decimal string, a date as "
            "YYYY-MM-DD, yes/no as a boolean, a document as its UUID."
        ),
    )
    document = serializers.UUIDField(source="document.uuid", read_only=True, allow_null=True)

    class Meta:
        model = FieldValue
        fields = [
            "field",
            "label",
            "type",
            "value",
            "document",
            "expires_on",
            "last_evidenced_at",
            "last_confirmed_at",
            "updated_at",
        ]
        read_only_fields = fields


VALUE_RULE = _(
    "The new value, in the canonical form: text as a string, a number as a JSON number or a "
    "decimal string (1234.5), a date as YYYY-MM-DD, yes/no as true or false, a choice as "
    "its key. `null` removes the value (a required field's value cannot be removed); the "
    "history records the removal and names the key. An empty or blank string is refused, "
    "for text as for every type: it is never a removal, and never a value. Not for "
    "documents."
)
DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The codes a value's error may carry, as the schema documents them: the form fields'
# finer codes (invalid_choice, max_digits, …) are all "invalid" to a client.
VALUE_ERROR_CODES = ("invalid", "blank", "required", "max_length")


def _invalid(message: Any, code: str = "invalid") -> serializers.ValidationError:
    return serializers.ValidationError(
        [serializers.ErrorDetail(str(message), code=code)], code=code
    )


def clean_value(field: DataField, raw: Any) -> Any:
    """A JSON value sent for `field`, checked as the back office checks it; its canonical form.

    The JSON type must be the field's, so that nothing is guessed: 42 is not a text and
    "true" is not a boolean. Numbers and dates take one spelling only, whatever the
    request's language, where the back office's fields read the page language's ("1,500"
    is fifteen hundred in English and one and a half in French).
    """
    if field.type == FieldType.BOOLEAN:
        if not isinstance(raw, bool):
            raise _invalid(_("Enter true or false."))
        return raw
    if (
        field.type == FieldType.NUMBER
        and isinstance(raw, int | float)
        and not isinstance(raw, bool)
    ):
        # Positional digits: 1e-07 is 0.0000001, which the field then judges.
        raw = format(Decimal(repr(raw)), "f")
    if not isinstance(raw, str):
        raise _invalid(
            _("Enter a number.") if field.type == FieldType.NUMBER else _("Enter a string.")
        )
    if not raw.strip():
        raise _invalid(
            _("An empty value is not a value: send null to remove the value on file."), "blank"
        )
    if field.type == FieldType.NUMBER and not DECIMAL.fullmatch(raw):
        raise _invalid(_("Enter a number with digits and a dot only, e.g. 1234.5."))
    if field.type == FieldType.DATE and not ISO_DATE.fullmatch(raw):
        raise _invalid(_("Enter a date as YYYY-MM-DD."))
    # The back office's own form field, for everything else (impossible dates, lengths,
    # choices, e-mail and phone syntax, the range a date field accepts).
    try:
        cleaned = fieldtypes.form_field(field, required=True).clean(raw)
    except forms.ValidationError as error:
        raise serializers.ValidationError(
            [
                serializers.ErrorDetail(
                    str(message),
                    code=item.code if item.code in VALUE_ERROR_CODES else "invalid",
                )
                for item in error.error_list
                for message in item.messages
            ]
        ) from None
    return fieldtypes.to_canonical(field, cleaned)


class NewValueSerializer(serializers.Serializer[Any]):
    field = OrganizationUUIDField(DataField, filters=active_q())
    value = serializers.JSONField(allow_null=True, help_text=VALUE_RULE)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        field: DataField = data["field"]
        profile: Profile = self.context["profile"]
        if field.applies_to != profile.kind:
            raise serializers.ValidationError(
                {"field": [_("This field is not a field of this profile's type.")]}
            )
        if field.is_document:
            raise serializers.ValidationError(
                {"value": [_("Upload a document to …/documents/ instead.")]}
            )
        raw = data["value"]
        if raw is None:
            # As in the back office, where a required field cannot be emptied.
            if field.required:
                raise serializers.ValidationError(
                    {"value": [_("This field is required: its value cannot be removed.")]},
                    code="required",
                )
            return {**data, "remove": True}
        try:
            value = clean_value(field, raw)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"value": error.detail}) from None
        return {**data, "value": value, "remove": False}


class DocumentUploadSerializer(serializers.Serializer[Any]):
    field = OrganizationUUIDField(DataField, filters=active_q(), help_text=_("A document field."))
    file = serializers.FileField(
        help_text=_("Checked by its content against the field's accepted types and size.")
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        field: DataField = data["field"]
        profile: Profile = self.context["profile"]
        if field.applies_to != profile.kind:
            raise serializers.ValidationError(
                {"field": [_("This field is not a field of this profile's type.")]}
            )
        if not field.is_document:
            raise serializers.ValidationError(
                {"field": [_("This is not a document field: set its value instead.")]}
            )
        upload = data["file"]
        try:
            # The same check as the back office's form and the client's page.
            upload.sniffed_content_type = check_upload(field, upload)
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                {"file": [serializers.ErrorDetail(m, code=error.code) for m in error.messages]}
            ) from None
        return data


class SetValuesSerializer(serializers.Serializer[Any]):
    values = NewValueSerializer(many=True, allow_empty=False)

    def validate_values(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(values) > MAX_VALUES:
            raise serializers.ValidationError(
                _("At most %(n)d values at once.") % {"n": MAX_VALUES}, code="max_length"
            )
        fields = [value["field"].pk for value in values]
        if len(set(fields)) != len(fields):
            raise serializers.ValidationError(_("Each field may appear once."))
        return values


class DataFieldSerializer(serializers.ModelSerializer[DataField]):
    update_group = serializers.UUIDField(
        source="group_membership.group.uuid", read_only=True, allow_null=True
    )

    class Meta:
        model = DataField
        fields = [
            "uuid",
            "applies_to",
            "label",
            "help_text",
            "section",
            "type",
            "required",
            "position",
            "choices",
            "accepted_types",
            "max_size_mb",
            "update_group",
            "archived_at",
        ]
        read_only_fields = fields


class ConditionSerializer(serializers.Serializer[Any]):
    """One condition of a group's audience (profiles.conditions)."""

    field = serializers.UUIDField(help_text=_("A data field of the group's type."))
    op = serializers.ChoiceField(
        choices=list(OPERATORS.items()),
        help_text=_(
            "eq, in: a list, text, e-mail, phone or yes/no field (in: a list of values); "
            "gt, lt: a number; before, after: a date."
        ),
    )
    value = serializers.JSONField(
        help_text=_(
            "A choice of the field, a text, a number as a string, a date as YYYY-MM-DD, "
            "true or false; for “in”, a list of them."
        )
    )


class TierSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(
        max_length=200, help_text=_("A choice of the tier field (e.g. High).")
    )
    months = serializers.IntegerField(
        min_value=1,
        max_value=1200,
        help_text=_("Every how many months a profile on this tier is asked."),
    )


class UpdateGroupSerializer(serializers.ModelSerializer[UpdateGroup]):
    next_date = serializers.DateField(
        read_only=True, help_text=_("The next occurrence of a calendar group.")
    )
    next_run_at = serializers.DateTimeField(read_only=True)
    audience = ConditionSerializer(
        many=True,
        required=False,
        help_text=_(
            "Whom the group asks among the active profiles of its type: those meeting every "
            "condition; empty, every one of them."
        ),
    )
    tiers = TierSerializer(
        many=True,
        required=False,
        help_text=_(
            "Tiered groups: the interval of each value of the tier field; a profile without "
            "one is asked at the group's own interval."
        ),
    )

    class Meta:
        model = UpdateGroup
        fields = [
            "uuid",
            "title",
            "applies_to",
            "start_date",
            "interval_count",
            "interval_unit",
            "is_active",
            "cadence",
            "tiers",
            "review_required",
            "extend_expiry",
            "trigger_daily_limit",
            "audience",
            "spread_days",
            "next_date",
            "next_run_at",
            "created_at",
        ]
        read_only_fields = ["uuid", "next_run_at", "created_at"]
        extra_kwargs = {
            "interval_count": {"min_value": 1, "max_value": 1000},
            "trigger_daily_limit": {"min_value": 1, "max_value": MAX_TRIGGER_DAILY_LIMIT},
            "spread_days": {
                "min_value": 1,
                "max_value": 250,
                "help_text": _(
                    "Each update's requests spread over this many working days, each profile "
                    "on a stable day of the window (1: all on the update date); at most the "
                    "working days of the shortest period."
                ),
            },
        }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # Declared here: an attribute named `fields` would hide the serializer's own.
        fields = super().get_fields()
        fields["fields"] = OrganizationUUIDField(
            DataField,
            filters=active_q(),
            many=True,
            help_text=_(
                "The data fields the group asks for; a field belongs to one group at most."
            ),
        )
        fields["trigger_fields"] = OrganizationUUIDField(
            DataField,
            filters=active_q(),
            many=True,
            required=False,
            help_text=_(
                "Fields of the group's type, not its own, whose change (through any door but "
                "the group's own write-back) asks the profile for the group's fields at once; "
                "at most `trigger_daily_limit` such requests a day, the rest waiting, oldest "
                "first. Triggers between groups may not form a loop."
            ),
        )
        fields["tier_field"] = OrganizationUUIDField(
            DataField,
            filters=active_q(),
            allow_null=True,
            required=False,
            help_text=_("Tiered groups: the list field whose value sets a profile's interval."),
        )
        return fields

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        group = self.instance
        probe = UpdateGroup(
            pk=group.pk if group else None,
            applies_to=data.get("applies_to", group.applies_to if group else ""),
        )
        fields = data.get("fields", list(group.fields.all()) if group else [])
        problems = field_problems(probe, fields)
        if problems:
            raise serializers.ValidationError({"fields": problems})
        if "audience" in data:
            # Plain JSON, as the group keeps it; `save_group` checks it against the fields.
            # (A partial change may leave a key out: `save_group` then refuses the condition.)
            data["audience"] = [
                {key: str(value) if key == "field" else value for key, value in c.items()}
                for c in data["audience"]
            ]
        return data


class NextUpdateSerializer(serializers.Serializer[Any]):
    """A profile's own next update in a rolling or tiered group."""

    group = serializers.UUIDField(source="group.uuid", help_text=_("The update group."))
    group_title = serializers.CharField(source="group.title")
    cadence = serializers.CharField(source="group.cadence")
    due_on = serializers.DateField(
        help_text=_("The local day the profile is next asked (the request's period).")
    )
    next_due = serializers.DateTimeField(help_text=_("The moment it falls due."))
    tier = serializers.CharField(help_text=_("The tier it is on; empty for none."))
    evidenced_on = serializers.DateField(
        allow_null=True, help_text=_("Its last fresh evidence for the group's fields.")
    )
    asked_on = serializers.DateField(allow_null=True, help_text=_("Its last request's day."))
    why = serializers.CharField(help_text=_("The interval and what it runs from, in words."))


class RunCountsSerializer(serializers.Serializer[Any]):
    """A run's follow-up, as its page shows it; purged dossiers count by their outcome."""

    sent = serializers.IntegerField(help_text=_("Dossiers the run opened."))
    opened = serializers.IntegerField(help_text=_("Of those, opened by the client."))
    answered = serializers.IntegerField(help_text=_("Answered by the client."))
    outstanding = serializers.IntegerField(help_text=_("Still owed by the client."))
    completion = serializers.IntegerField(help_text=_("Answered, in per cent of those asked."))

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for status in Dossier.Status:
            fields[status.value] = serializers.IntegerField(help_text=str(status.label))
        return fields


class UpdateRunSerializer(serializers.ModelSerializer[UpdateRun]):
    group = serializers.UUIDField(source="group.uuid", read_only=True)
    dossiers = RunCountsSerializer(
        source="counts", read_only=True, help_text=_("Its dossiers, counted by status.")
    )

    class Meta:
        model = UpdateRun
        fields = [
            "group",
            "period",
            "skipped",
            "due_at",
            "created_at",
            "finished_at",
            "dossiers_opened",
            "dossiers",
        ]
        read_only_fields = fields


class DossierSerializer(serializers.ModelSerializer[Dossier]):
    profile = serializers.UUIDField(source="profile.uuid", read_only=True)
    group = serializers.UUIDField(source="update_group.uuid", read_only=True, allow_null=True)

    class Meta:
        model = Dossier
        fields = [
            "uuid",
            "profile",
            "kind",
            "status",
            "title",
            "message",
            "group",
            "period",
            "created_at",
            "expires_at",
            "first_opened_at",
            "submitted_at",
            "decided_at",
        ]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)


class DossierItemSerializer(serializers.ModelSerializer[DossierItem]):
    field = serializers.UUIDField(source="field.uuid", read_only=True)
    label = serializers.CharField(source="field.label", read_only=True)  # type: ignore[assignment]
    type = serializers.CharField(source="field.type", read_only=True)
    initial_value = serializers.JSONField(read_only=True)
    answer = serializers.JSONField(read_only=True)
    review = serializers.ChoiceField(
        choices=ItemReview.choices,
        allow_blank=True,
        read_only=True,
        help_text=_("Empty until the answer waits for review."),
    )
    upload = serializers.SerializerMethodField(
        help_text=_("A client's upload not yet written to the profile.")
    )
    remove_requested = serializers.BooleanField(
        read_only=True,
        help_text=_(
            "The client said the value no longer applies: approving the item removes the value "
            "on file. Never inferred from an empty answer."
        ),
    )
    document = serializers.UUIDField(
        source="written_document.uuid",
        read_only=True,
        allow_null=True,
        help_text=_("The profile document the upload became once written back."),
    )

    class Meta:
        model = DossierItem
        fields = [
            "field",
            "label",
            "type",
            "initial_value",
            "answer",
            "answered",
            "confirmed",
            "remove_requested",
            "review",
            "rejection_reason",
            "upload",
            "document",
        ]
        read_only_fields = fields

    @extend_schema_field(UploadSerializer(allow_null=True))
    def get_upload(self, item: DossierItem) -> dict[str, Any] | None:
        if not item.upload:
            return None
        return {
            "name": item.upload_name,
            "content_type": item.upload_content_type,
            "size": item.upload_size,
        }


class DossierDetailSerializer(DossierSerializer):
    items = DossierItemSerializer(many=True, read_only=True)

    class Meta(DossierSerializer.Meta):
        fields = [*DossierSerializer.Meta.fields, "items"]
        read_only_fields = fields


class DossierCreateSerializer(serializers.Serializer[Any]):
    profile = OrganizationUUIDField(Profile)
    title = serializers.CharField(max_length=200)
    message = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    days = serializers.IntegerField(
        min_value=1, max_value=90, default=30, help_text=_("Days the client's link stays valid.")
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # Declared here: an attribute named `fields` would hide the serializer's own.
        fields = super().get_fields()
        fields["fields"] = OrganizationUUIDField(
            DataField,
            filters=active_q(),
            many=True,
            allow_empty=False,
            help_text=_("The data fields to ask for."),
        )
        return fields


class ApproveSerializer(serializers.Serializer[Any]):
    items = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=500,
        help_text=_("The fields of the items to approve; all pending items if left out."),
    )


class RejectSerializer(serializers.Serializer[Any]):
    item = serializers.UUIDField(help_text=_("The field of the item to send back."))
    reason = serializers.CharField(
        max_length=1000, help_text=_("Why, in words the client will read.")
    )


class ReviewResultSerializer(serializers.Serializer[Any]):
    approved = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=Dossier.Status.choices)
