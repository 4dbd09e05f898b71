"""`POST /api/v1/profiles/upsert/`: contacts or companies by external reference, with their
values, up to 1,000 rows a call, all or nothing (imports.actions.import_rows, the writer of
every import: the same validation and history as a file's rows)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import clean_value, single_line
from api.views import OrganizationViewSet
from imports import actions as import_actions
from imports import selectors
from imports.mapping import ATTRIBUTES, Kind
from imports.parsing import ParsedRow
from organizations.actors import Actor

MAX_ROWS = 1000


class _Rollback(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors


class UpsertValueSerializer(serializers.Serializer[Any]):
    field = serializers.UUIDField(help_text=_("A data field of the rows' type, by its UUID."))
    value = serializers.JSONField(
        help_text=_(
            "As `PATCH …/values/` takes it: a string, a number, a boolean, a date as "
            "YYYY-MM-DD. An import never removes a value: null is refused (code `null`)."
        )
    )


class UpsertIdentitySerializer(serializers.Serializer[Any]):
    first_name = serializers.CharField(max_length=150, required=False, validators=[single_line])
    last_name = serializers.CharField(max_length=150, required=False, validators=[single_line])
    email = serializers.EmailField(max_length=254, required=False)
    phone = serializers.CharField(max_length=40, required=False, validators=[single_line])
    language = serializers.ChoiceField(choices=[c for c, _n in settings.LANGUAGES], required=False)
    company = serializers.CharField(
        max_length=200,
        required=False,
        help_text=_("A contact's company, by its external reference or its name."),
    )
    is_representative = serializers.BooleanField(required=False)
    name = serializers.CharField(max_length=200, required=False, validators=[single_line])
    registration_number = serializers.CharField(
        max_length=60, required=False, validators=[single_line]
    )
    address = serializers.CharField(max_length=2000, required=False)


class UpsertRowSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(
        max_length=100,
        validators=[single_line],
        help_text=_(
            "The profile's external reference: the row updates the profile that has it, "
            "or creates one."
        ),
    )
    identity = UpsertIdentitySerializer(required=False)
    values = UpsertValueSerializer(many=True, required=False)


class UpsertSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Kind.choices)
    rows = UpsertRowSerializer(many=True, allow_empty=False)

    def validate_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(rows) > MAX_ROWS:
            raise serializers.ValidationError(
                _("At most %(n)d rows at once.") % {"n": MAX_ROWS}, code="max_length"
            )
        return rows


class UpsertResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    changed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    profiles = serializers.DictField(
        child=serializers.UUIDField(), help_text=_("Each row's reference → its profile's UUID.")
    )


@extend_validation_errors(["invalid", "required", "null"], field_name="kind")
@extend_validation_errors(
    ["invalid", "required", "null", "not_a_list", "empty", "max_length"], field_name="rows"
)
@extend_validation_errors(["invalid", "null"], field_name="rows.INDEX")
@extend_validation_errors(
    ["invalid", "required", "null", "blank", "max_length"], field_name="rows.INDEX.reference"
)
@extend_validation_errors(["invalid", "null"], field_name="rows.INDEX.identity")
@extend_validation_errors(["invalid", "null"], field_name="rows.INDEX.values.INDEX")
@extend_validation_errors(["invalid", "null", "not_a_list"], field_name="rows.INDEX.values")
@extend_validation_errors(
    ["invalid", "required", "null", "does_not_exist"],
    field_name="rows.INDEX.values.INDEX.field",
)
@extend_validation_errors(
    ["invalid", "blank", "required", "max_length", "null"],
    field_name="rows.INDEX.values.INDEX.value",
)
class UpsertViewSet(OrganizationViewSet):
    serializer_class = UpsertSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        summary="Create or update profiles by external reference",
        description=(
            "Up to 1,000 contacts or companies a call, each named by its external reference: a "
            "row updates the profile of that reference, or creates one. Each value is checked "
            "as `PATCH …/values/` checks it, and each change is written to the profile's "
            "history naming the key; an unchanged value is left alone, so sending the same "
            "rows twice changes nothing. All or nothing: if one row is refused, the error "
            "names it (`rows.3.values.0.value`, `rows.3` for a row as a whole) and nothing of "
            "the call is written."
        ),
        request=UpsertSerializer,
        responses=UpsertResultSerializer,
    )
    def create(self, request: Request) -> Response:
        payload = UpsertSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        kind: str = payload.validated_data["kind"]
        rows: list[dict[str, Any]] = payload.validated_data["rows"]
        parsed = self._parsed(kind, rows)
        actor = Actor.of_api_key(self.key)
        duplicates = import_actions.duplicate_errors(lambda: import_actions.rows_keys(parsed, kind))
        try:
            with transaction.atomic():
                result = import_actions.import_rows(
                    organization=self.organization,
                    actor=actor,
                    kind=kind,
                    rows=parsed,
                    source=import_actions.ImportSource(None, ""),
                    duplicates=duplicates,
                )
                if result.errors:
                    errors: dict[str, list[str]] = {}
                    for line, column, message in result.errors:
                        errors.setdefault(f"rows.{line}", []).append(
                            f"{column}: {message}" if column else message
                        )
                    raise _Rollback(errors)
                import_actions.record_import(
                    organization=self.organization,
                    actor=actor,
                    name=str(_("API")),
                    result=result,
                    kind=kind,
                )
        except _Rollback as refusal:
            raise serializers.ValidationError(refusal.errors) from None
        found = selectors.profiles_by_reference(
            self.organization, kind, [row.reference for row in parsed]
        )
        return Response(
            UpsertResultSerializer(
                {
                    "created": result.created,
                    "changed": result.changed,
                    "unchanged": result.unchanged,
                    "profiles": found,
                }
            ).data
        )

    def _parsed(self, kind: str, rows: list[dict[str, Any]]) -> list[ParsedRow]:
        """The rows as the import's writer takes them; a value refused says where."""
        wanted = {value["field"] for row in rows for value in row.get("values", [])}
        fields = selectors.importable_fields(self.organization, kind, wanted)
        errors: dict[str, list[Any]] = {}
        parsed: list[ParsedRow] = []
        for index, row in enumerate(rows):
            identity = dict(row.get("identity") or {})
            company = identity.pop("company", "")
            other = [n for n in identity if n not in ATTRIBUTES[Kind(kind)]]
            for name in other:
                errors[f"rows.{index}.identity.{name}"] = [
                    _("A %(kind)s has no such field.") % {"kind": Kind(kind).label}
                ]
            if company and kind != Kind.CONTACT:
                errors[f"rows.{index}.identity.company"] = [
                    _("A %(kind)s has no such field.") % {"kind": Kind(kind).label}
                ]
            values = []
            seen: set[uuid.UUID] = set()
            for position, item in enumerate(row.get("values", [])):
                where = f"rows.{index}.values.{position}"
                field = fields.get(item["field"])
                if field is None:
                    errors[f"{where}.field"] = [
                        serializers.ErrorDetail(
                            str(
                                _("No data field of this type has this UUID, or it is a document.")
                            ),
                            code="does_not_exist",
                        )
                    ]
                    continue
                if field.uuid in seen:
                    errors[f"{where}.field"] = [_("Each field may appear once.")]
                    continue
                seen.add(field.uuid)
                try:
                    values.append((field, clean_value(field, item["value"])))
                except serializers.ValidationError as error:
                    errors[f"{where}.value"] = error.detail  # type: ignore[assignment]
            parsed.append(
                ParsedRow(
                    line=index,
                    reference=row["reference"].strip(),
                    identity=identity,
                    company=company,
                    values=values,
                )
            )
        if errors:
            raise serializers.ValidationError(errors)
        return parsed
