"""The REST API: one organisation's objects, reached with one of its keys.

Every view enters the key's organisation in a django-scopes scope once the key is checked,
so a query outside it raises, and looks objects up within it: another organisation's
object is a 404, as in the back office.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import scope
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import (
    exceptions,
    mixins,
    parsers,
    renderers,
    serializers,
    status,
    viewsets,
)
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api import serializers as api
from api.models import ApiKey
from api.pagination import InPosition, LatestPeriodFirst
from api.parsers import JSONParser
from dossiers import actions as dossiers_actions
from dossiers import review
from dossiers.filters import DossierFilterSet
from dossiers.models import Dossier, DossierItem
from monitoring import actions as monitoring_actions
from monitoring import followup
from monitoring import rolling as monitoring_rolling
from monitoring.filters import UpdateGroupFilterSet
from monitoring.models import UpdateGroup, UpdateRun
from organizations.actors import Actor
from organizations.models import Organization
from profiles import actions as profile_actions
from profiles.filters import DataFieldFilterSet, ProfileFilterSet
from profiles.models import DOCUMENT_TYPES, DataField, Document, FieldValue, Profile
from profiles.services import StorageUnavailable


class ApiRequest(Request):
    """A request once its key is checked: the key, and the organisation it belongs to."""

    auth: ApiKey
    organization: Organization


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = _("The object changed meanwhile: read it again.")


class StorageDown(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "storage_unavailable"
    default_detail = _("The file could not be stored just now. Nothing was saved: try again.")


class OrganizationViewSet(viewsets.GenericViewSet[Any]):
    lookup_field = "uuid"
    # Any path segment reaches the view, so that a malformed UUID is a 404 in the API's shape.
    lookup_value_regex = "[^/]+"
    request: ApiRequest
    parser_classes = [JSONParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # the key, its access, its rate
        key = request.auth
        assert isinstance(key, ApiKey)
        organization = key.organization
        request.organization = organization  # type: ignore[attr-defined]
        # Held until the response is finalised: serialising reads tenant data too.
        self._tenant: ExitStack | None = ExitStack()
        self._tenant.enter_context(scope(organization=organization))
        self._tenant.enter_context(timezone.override(organization.tzinfo))

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            tenant = getattr(self, "_tenant", None)
            if tenant is not None:
                tenant.close()
                self._tenant = None

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Filters narrow lists only: an object is reached by its UUID whatever its status.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @property
    def organization(self) -> Organization:
        return self.request.organization

    @property
    def key(self) -> ApiKey:
        return self.request.auth


PROFILE_WRITES = ["create", "update", "partial_update"]


def refused(error: DjangoValidationError) -> serializers.ValidationError:
    """An action's refusal as the API's 400, naming the attribute it concerns."""
    return serializers.ValidationError(error.message_dict)


# Errors raised by our own rules, declared so that the schema lists their codes.
@extend_validation_errors(["invalid"], field_name="kind", actions=PROFILE_WRITES)
@extend_validation_errors(["invalid"], field_name="values", actions=PROFILE_WRITES)
@extend_validation_errors(
    ["invalid", "required", "null", "not_a_list", "empty", "max_length"],
    field_name="values",
    actions=["values"],
)
@extend_validation_errors(["invalid", "null"], field_name="values.INDEX", actions=["values"])
@extend_validation_errors(
    ["invalid", "required", "null", "does_not_exist"],
    field_name="values.INDEX.field",
    actions=["values"],
)
@extend_validation_errors(
    list(api.VALUE_ERROR_CODES), field_name="values.INDEX.value", actions=["values"]
)
@extend_validation_errors(["invalid", "empty", "too_large", "bad_type"], field_name="file")
@extend_validation_errors(["invalid"], field_name="field", actions=["upload_document"])
@extend_validation_errors(["invalid", "required"], field_name="is_representative")
@extend_validation_errors(["invalid"], field_name="company", actions=PROFILE_WRITES)
@extend_validation_errors(["invalid", "required"], field_name="first_name")
@extend_validation_errors(["invalid", "required"], field_name="last_name")
@extend_validation_errors(["invalid", "required"], field_name="email")
@extend_validation_errors(["invalid", "required"], field_name="phone")
@extend_validation_errors(["invalid", "required"], field_name="name")
@extend_validation_errors(["invalid"], field_name="registration_number")
@extend_validation_errors(["invalid"], field_name="address")
@extend_schema_view(
    list=extend_schema(summary="List profiles", description="Contacts and companies."),
    create=extend_schema(summary="Create a profile"),
    retrieve=extend_schema(summary="Read a profile"),
    update=extend_schema(summary="Replace a profile's identity"),
    partial_update=extend_schema(summary="Change a profile's identity"),
)
class ProfileViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    OrganizationViewSet,
):
    queryset = Profile.objects.none()  # the model, for the schema; get_queryset() serves
    serializer_class = api.ProfileSerializer
    filterset_class = ProfileFilterSet

    def get_queryset(self) -> QuerySet[Profile]:
        return Profile.objects.filter(organization=self.organization).select_related("company")

    @property
    def actor(self) -> Actor:
        return Actor.of_api_key(self.key)

    def perform_create(self, serializer: serializers.BaseSerializer[Profile]) -> None:
        identity = dict(serializer.validated_data)
        kind = identity.pop("kind")
        try:
            serializer.instance = profile_actions.create_profile(
                organization=self.organization, actor=self.actor, kind=kind, identity=identity
            )
        except DjangoValidationError as error:
            raise refused(error) from None

    def perform_update(self, serializer: serializers.BaseSerializer[Profile]) -> None:
        assert serializer.instance is not None
        # The serializer refuses a change of kind: one given is the profile's own.
        identity = {k: v for k, v in serializer.validated_data.items() if k != "kind"}
        try:
            profile_actions.update_profile(serializer.instance, actor=self.actor, identity=identity)
        except DjangoValidationError as error:
            raise refused(error) from None

    @extend_schema(summary="Archive a profile", request=None, responses=api.ProfileSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, uuid: Any = None) -> Response:
        profile = profile_actions.archive_profile(self.get_object(), actor=self.actor)
        return Response(self.get_serializer(profile).data)

    @extend_schema(
        summary="Read a profile's own next updates",
        description=(
            "For each rolling or tiered update group that asks the profile: the local day it "
            "is next asked (the period of that request), the moment in UTC, its tier and "
            "what the interval runs from. Calendar groups ask everyone on the group's "
            "`next_date`."
        ),
        responses=api.NextUpdateSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def schedule(self, request: Request, uuid: Any = None) -> Response:
        profile = self.get_object()
        return Response(
            api.NextUpdateSerializer(monitoring_rolling.next_updates(profile), many=True).data
        )

    @extend_schema(
        summary="Restore an archived profile", request=None, responses=api.ProfileSerializer
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, uuid: Any = None) -> Response:
        profile = profile_actions.restore_profile(self.get_object(), actor=self.actor)
        return Response(self.get_serializer(profile).data)

    @extend_schema(
        methods=["GET"],
        summary="Read a profile's values",
        responses=api.ValueSerializer(many=True),
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Set some of a profile's values",
        description=(
            "Each value is validated as the back office validates it and written through the "
            "one write path: the profile's history records the change and names the key.\n\n"
            "A field left out of `values` keeps its value. `null` removes a value (not a "
            "required field's): the history records the removal and names the key. An empty "
            "or blank string is refused for every type, text included, with the code "
            "`blank`: an empty input is never a removal, and a text of nothing is not a "
            "value. All or nothing: if one item is refused, the error names it "
            "(`values.2.value`) and no value of the list is written."
        ),
        request=api.SetValuesSerializer,
        responses=api.ValueSerializer(many=True),
    )
    @action(detail=True, methods=["get", "patch"], pagination_class=None, filter_backends=[])
    def values(self, request: Request, uuid: Any = None) -> Response:
        profile = self.get_object()
        if request.method == "PATCH":
            payload = api.SetValuesSerializer(
                data=request.data, context={**self.get_serializer_context(), "profile": profile}
            )
            payload.is_valid(raise_exception=True)
            given = payload.validated_data["values"]
            try:
                profile_actions.set_values(
                    profile,
                    actor=self.actor,
                    values=[(v["field"], v["value"]) for v in given if not v["remove"]],
                    removals=[v["field"] for v in given if v["remove"]],
                )
            except DjangoValidationError as error:
                raise refused(error) from None
        values = (
            FieldValue.objects.filter(profile=profile)
            .select_related("field", "document")
            .order_by("field__position", "field_id")
        )
        return Response(api.ValueSerializer(values, many=True).data)

    @extend_schema(
        summary="Upload a document as a profile's value",
        description=(
            "The file is checked by its content, stored, and becomes the field's value "
            "through the one write path: the history records it and names the key."
        ),
        request=api.DocumentUploadSerializer,
        responses={201: api.ValueSerializer, 503: OpenApiResponse(description="Storage down.")},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="documents",
        url_name="documents",
        parser_classes=[parsers.MultiPartParser],
        pagination_class=None,
        filter_backends=[],
    )
    def upload_document(self, request: Request, uuid: Any = None) -> Response:
        profile = self.get_object()
        payload = api.DocumentUploadSerializer(
            data=request.data, context={**self.get_serializer_context(), "profile": profile}
        )
        payload.is_valid(raise_exception=True)
        field: DataField = payload.validated_data["field"]
        try:
            profile_actions.set_values(
                profile, actor=self.actor, values=[(field, payload.validated_data["file"])]
            )
        except StorageUnavailable:
            raise StorageDown from None
        except DjangoValidationError as error:
            raise refused(error) from None
        value = FieldValue.objects.select_related("field", "document").get(
            profile=profile, field=field
        )
        return Response(api.ValueSerializer(value).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List data fields"),
    retrieve=extend_schema(summary="Read a data field"),
)
class DataFieldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = DataField.objects.none()
    serializer_class = api.DataFieldSerializer
    pagination_class = InPosition
    filterset_class = DataFieldFilterSet

    def get_queryset(self) -> QuerySet[DataField]:
        return DataField.objects.filter(organization=self.organization).select_related(
            "group_membership__group"
        )


@extend_validation_errors(["invalid"], field_name="fields")
@extend_validation_errors(["invalid"], field_name="trigger_fields")
@extend_validation_errors(["invalid", "null", "not_a_list"], field_name="audience")
@extend_validation_errors(["invalid", "null"], field_name="audience.INDEX")
@extend_validation_errors(["invalid"], field_name="spread_days")
@extend_validation_errors(["invalid", "null", "not_a_list"], field_name="tiers")
@extend_validation_errors(["invalid", "null"], field_name="tiers.INDEX")
@extend_schema_view(
    list=extend_schema(summary="List update groups"),
    create=extend_schema(summary="Create an update group"),
    retrieve=extend_schema(summary="Read an update group"),
    update=extend_schema(summary="Replace an update group"),
    partial_update=extend_schema(summary="Change an update group"),
    destroy=extend_schema(
        summary="Delete an update group",
        description="Its fields are free again; its open dossiers run their course.",
    ),
)
class UpdateGroupViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    OrganizationViewSet,
):
    queryset = UpdateGroup.objects.none()
    serializer_class = api.UpdateGroupSerializer
    filterset_class = UpdateGroupFilterSet

    def get_queryset(self) -> QuerySet[UpdateGroup]:
        return (
            UpdateGroup.objects.filter(organization=self.organization)
            .select_related("organization", "tier_field", "due")
            .prefetch_related(
                Prefetch("fields", queryset=DataField.objects.order_by("position", "id")),
                Prefetch("trigger_fields", queryset=DataField.objects.order_by("position", "id")),
            )
        )

    def perform_create(self, serializer: serializers.BaseSerializer[UpdateGroup]) -> None:
        self._save(serializer)

    def perform_update(self, serializer: serializers.BaseSerializer[UpdateGroup]) -> None:
        self._save(serializer)

    def _save(self, serializer: serializers.BaseSerializer[UpdateGroup]) -> None:
        data = dict(serializer.validated_data)
        fields = data.pop("fields", None)
        triggers = data.pop("trigger_fields", None)
        if "tiers" in data:
            data["tiers"] = [dict(tier) for tier in data["tiers"]]
        group = serializer.instance or UpdateGroup(organization=self.organization)
        for name, value in data.items():
            setattr(group, name, value)
        try:
            monitoring_actions.save_group(
                group, actor=Actor.of_api_key(self.key), fields=fields, triggers=triggers
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        serializer.instance = self.get_queryset().get(pk=group.pk)

    def perform_destroy(self, instance: UpdateGroup) -> None:
        monitoring_actions.delete_group(instance, actor=Actor.of_api_key(self.key))

    @extend_schema(
        summary="List a group's runs with their follow-up counts",
        responses=api.UpdateRunSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=LatestPeriodFirst, filter_backends=[])
    def runs(self, request: Request, uuid: Any = None) -> Response:
        group = self.get_object()
        runs = UpdateRun.objects.filter(group=group).select_related("group")
        page = cast(list[UpdateRun], self.paginate_queryset(runs))
        # The follow-up page's counts, purged dossiers included: two queries for the page.
        outcomes = followup.outcomes(group, [run.period for run in page])
        for run in page:
            counts = outcomes[run.period]
            run.counts = {  # type: ignore[attr-defined]
                "sent": counts.sent,
                "opened": counts.opened,
                "answered": counts.answered,
                "outstanding": counts.outstanding,
                "completion": counts.completion,
                **{status: counts.by_status[status] for status in Dossier.Status.values},
            }
        return self.get_paginated_response(api.UpdateRunSerializer(page, many=True).data)


@extend_validation_errors(["invalid"], field_name="profile", actions=["create"])
@extend_validation_errors(["invalid"], field_name="fields", actions=["create"])
@extend_validation_errors(["invalid"], field_name="items", actions=["approve"])
@extend_validation_errors(["invalid"], field_name="item", actions=["reject"])
@extend_schema_view(
    list=extend_schema(summary="List dossiers"),
    retrieve=extend_schema(summary="Read a dossier, its status and its items"),
)
class DossierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = Dossier.objects.none()
    filterset_class = DossierFilterSet

    def get_queryset(self) -> QuerySet[Dossier]:
        dossiers = Dossier.objects.filter(organization=self.organization).select_related(
            "profile", "update_group"
        )
        if self.action == "retrieve":
            dossiers = dossiers.prefetch_related(
                Prefetch(
                    "items",
                    queryset=DossierItem.objects.select_related("field", "written_document"),
                )
            )
        return dossiers

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "retrieve":
            return api.DossierDetailSerializer
        if self.action == "create":
            return api.DossierCreateSerializer
        return api.DossierSerializer

    @extend_schema(
        summary="Open a classic dossier",
        description="The client receives the link by e-mail, as from the back office.",
        request=api.DossierCreateSerializer,
        responses={201: api.DossierDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        payload = api.DossierCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            opened = dossiers_actions.open_dossier(
                data["profile"],
                fields=list(data["fields"]),
                title=data["title"],
                message=data.get("message", ""),
                days=data["days"],
                actor=Actor.of_api_key(self.key),
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        dossier = self.get_queryset().prefetch_related("items__field").get(pk=opened.pk)
        return Response(api.DossierDetailSerializer(dossier).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve items of a dossier under review",
        description=(
            "Writes the approved answers to the profile; the history names the key as the "
            "approver. Without `items`, approves every pending item."
        ),
        request=api.ApproveSerializer,
        responses={
            200: api.ReviewResultSerializer,
            409: OpenApiResponse(description="Not under review."),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, uuid: Any = None) -> Response:
        dossier = self.get_object()
        payload = api.ApproveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item_ids = None
        if "items" in payload.validated_data:
            wanted = set(payload.validated_data["items"])
            found = dict(
                DossierItem.objects.filter(dossier=dossier, field__uuid__in=wanted).values_list(
                    "field__uuid", "pk"
                )
            )
            missing = wanted - set(found)
            if missing:
                raise serializers.ValidationError(
                    {
                        "items": [
                            _("Not items of this dossier: %(fields)s.")
                            % {"fields": ", ".join(sorted(map(str, missing)))}
                        ]
                    }
                )
            item_ids = list(found.values())
        try:
            decision = dossiers_actions.approve(
                dossier, item_ids=item_ids, actor=Actor.of_api_key(self.key)
            )
        except review.Involved:
            raise Conflict(
                _(
                    "This key sent the dossier's link again, or changed the contact data of "
                    "whoever answered it: a member decides."
                )
            ) from None
        except review.OwnAnswers:
            raise Conflict(
                _("A member gave these answers on the client's behalf: another member decides.")
            ) from None
        except review.NotReviewable:
            raise Conflict(_("This dossier is not waiting for review.")) from None
        return Response({"approved": len(decision.approved), "status": decision.status})

    @extend_schema(
        summary="Send an item back to the client",
        description="The client reads the reason on the same link, and by e-mail.",
        request=api.RejectSerializer,
        responses={
            200: api.ReviewResultSerializer,
            409: OpenApiResponse(description="Not under review."),
        },
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, uuid: Any = None) -> Response:
        dossier = self.get_object()
        payload = api.RejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = (
            DossierItem.objects.filter(dossier=dossier, field__uuid=payload.validated_data["item"])
            .select_related("field")
            .first()
        )
        if item is None:
            raise serializers.ValidationError({"item": [_("Not an item of this dossier.")]})
        try:
            decision = dossiers_actions.send_back(
                dossier,
                item=item,
                reason=payload.validated_data["reason"],
                actor=Actor.of_api_key(self.key),
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        except review.Involved:
            raise Conflict(
                _(
                    "This key sent the dossier's link again, or changed the contact data of "
                    "whoever answered it: a member decides."
                )
            ) from None
        except review.OwnAnswers:
            raise Conflict(
                _("A member gave these answers on the client's behalf: another member decides.")
            ) from None
        except review.NotReviewable:
            raise Conflict(_("This item is not waiting for review.")) from None
        return Response({"status": decision.status})


class AnyFileRenderer(renderers.BaseRenderer):
    """Lets a download be asked for with any Accept header; errors still come as JSON."""

    media_type = "*/*"
    format = "file"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode()


class DocumentViewSet(OrganizationViewSet):
    renderer_classes = [renderers.JSONRenderer, AnyFileRenderer]
    queryset = Document.objects.none()

    @extend_schema(
        summary="Download a document",
        description="The file as stored, in the type its content was checked to be.",
        responses={(200, mime): OpenApiTypes.BINARY for mime, _label in DOCUMENT_TYPES.values()},
    )
    def retrieve(self, request: Request, uuid: Any = None) -> HttpResponseBase:
        document: Document = get_object_or_404(
            Document.objects.filter(organization=self.organization).select_related("profile"),
            uuid=uuid,
        )
        return profile_actions.download_document(document, actor=Actor.of_api_key(self.key))


def not_found(request: HttpRequest) -> JsonResponse:
    error = {"code": "not_found", "detail": str(exceptions.NotFound.default_detail), "attr": None}
    return JsonResponse({"type": "client_error", "errors": [error]}, status=404)
