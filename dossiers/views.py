from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dossiers.forms import ClassicDossierForm
from dossiers.messages import INVITATION, queue_link_messages
from dossiers.models import AccessToken, Dossier, DossierRecord
from dossiers.opening import open_dossiers
from organizations.lookups import get_for_org, search_query
from profiles import fieldtypes
from profiles.models import Profile

PAGE_SIZE = 25


def _group_model() -> Any:
    # The group lives in the monitoring app, to the right of this one: reached through the
    # foreign key, never imported.
    return Dossier._meta.get_field("update_group").related_model


def dossier_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    dossiers = Dossier.objects.filter(organization=request.organization).select_related(
        "profile", "update_group"
    )
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    group = request.GET.get("group", "")
    query = search_query(request)
    if status in Dossier.Status.values:
        dossiers = dossiers.filter(status=status)
    if kind in Dossier.Kind.values:
        dossiers = dossiers.filter(kind=kind)
    groups = list(_group_model().objects.filter(organization=request.organization))
    chosen = next((g for g in groups if str(g.uuid) == group), None)
    if chosen is not None:
        dossiers = dossiers.filter(update_group=chosen)
    if query:
        dossiers = dossiers.filter(
            Q(profile__last_name__icontains=query)
            | Q(profile__first_name__icontains=query)
            | Q(profile__name__icontains=query)
            | Q(title__icontains=query)
        )
    page = Paginator(dossiers.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "dossiers/list.html",
        {
            "page": page,
            "statuses": Dossier.Status.choices,
            "kinds": Dossier.Kind.choices,
            "groups": groups,
            "status": status,
            "kind": kind,
            "group": group,
            "query": query,
        },
    )


def _get_dossier(request: HttpRequest, dossier_uuid: Any) -> Dossier:
    return get_for_org(
        request, Dossier.objects.select_related("profile", "update_group"), uuid=dossier_uuid
    )


def dossier_detail(request: HttpRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    dossier = _get_dossier(request, dossier_uuid)
    rows = []
    for item in dossier.items.select_related("field", "initial_document", "written_document"):
        field = item.field
        rows.append(
            {
                "item": item,
                "initial": fieldtypes.display(field, item.initial_value)
                if not field.is_document
                else (item.initial_document.name if item.initial_document else ""),
                "answer": (
                    (item.written_document.name if item.written_document else item.upload_name)
                    if field.is_document
                    else fieldtypes.display(field, item.answer)
                )
                if item.answered
                else "",
            }
        )
    return render(
        request,
        "dossiers/detail.html",
        {
            "dossier": dossier,
            "rows": rows,
            "recipients": dossier.recipients(),
            "outgoing": dossier.outgoing_messages.order_by("-created_at", "-id")[:20],
        },
    )


@require_POST
def dossier_open_link(request: HttpRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    """Opens the client's page, as the client would see it, with a link of its own."""
    dossier = _get_dossier(request, dossier_uuid)
    recipients = dossier.recipients()
    if not recipients:
        messages.error(request, _("This company has no representative to answer for it."))
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    token = AccessToken.issue(dossier, recipients[0])
    return redirect(reverse("portal:dossier", kwargs={"token": token}))


@require_POST
def dossier_resend(request: HttpRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    dossier = _get_dossier(request, dossier_uuid)
    if not dossier.is_open:
        messages.error(request, _("This dossier is closed: there is no link to send."))
    else:
        queue_link_messages([dossier.pk], INVITATION, again=True)
        messages.success(request, _("A new link is on its way to the client."))
    return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)


@require_http_methods(["GET", "POST"])
def dossier_create(request: HttpRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    form = ClassicDossierForm(request.POST or None, profile=profile)
    if request.method == "POST" and form.is_valid():
        [dossier_id] = open_dossiers(
            request.organization,
            [profile.pk],
            list(form.cleaned_data["fields"]),
            kind=Dossier.Kind.CLASSIC,
            title=form.cleaned_data["title"],
            message=form.cleaned_data["message"],
            expires_at=timezone.now() + timezone.timedelta(days=form.cleaned_data["days"]),
            created_by=request.user,
        )
        dossier = Dossier.objects.get(pk=dossier_id)
        messages.success(request, _("The dossier was opened and its link sent to the client."))
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    return render(request, "dossiers/create.html", {"form": form, "profile": profile})


def profile_dossiers(request: HttpRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    """The dossiers section of a profile page, loaded into it by URL."""
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    dossiers = list(
        Dossier.objects.filter(profile=profile)
        .select_related("update_group")
        .order_by("-created_at")[:20]
    )
    records = list(DossierRecord.objects.filter(profile=profile).order_by("-created_at")[:10])
    return render(
        request,
        "dossiers/profile_dossiers.html",
        {"profile": profile, "dossiers": dossiers, "records": records},
    )
