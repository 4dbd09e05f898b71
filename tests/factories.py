"""Small builders for tests: objects built inline, in the organisation's scope."""

from __future__ import annotations

import io
from typing import Any

from django_scopes import scopes_disabled
from PIL import Image
from pypdf import PdfWriter

from profiles.models import DataField, Kind, Profile


def _one_page_pdf(padding: int = 0) -> bytes:
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if padding:
        writer.add_metadata({"/Padding": "x" * padding})
    writer.write(out)
    return out.getvalue()


def large_pdf(padding: int) -> bytes:
    """A PDF that opens, `padding` bytes larger than PDF."""
    return _one_page_pdf(padding)


def _one_pixel_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (1, 1), (255, 0, 0, 255)).save(out, "PNG")
    return out.getvalue()


# Made here rather than shipped, so that each opens: uploads are checked by structure.
PDF = _one_page_pdf()
PNG = _one_pixel_png()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def contact(org: Any, **kwargs: Any) -> Profile:
    defaults = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}
    with scopes_disabled():
        return Profile.objects.create(organization=org, kind=Kind.CONTACT, **{**defaults, **kwargs})


def company(org: Any, **kwargs: Any) -> Profile:
    with scopes_disabled():
        return Profile.objects.create(
            organization=org, kind=Kind.COMPANY, **{"name": "Initech", **kwargs}
        )


def field(org: Any, type: str = "text", applies_to: str = Kind.CONTACT, **kwargs: Any) -> DataField:
    with scopes_disabled():
        position = DataField.objects.filter(organization=org).count()
        return DataField.objects.create(
            organization=org,
            applies_to=applies_to,
            type=type,
            label=kwargs.pop("label", f"{type} field {position}"),
            position=position,
            **kwargs,
        )


def dossier(org: Any, profile: Profile, fields: list[DataField], **kwargs: Any) -> Any:
    from django_scopes import scope

    from dossiers.models import Dossier
    from dossiers.opening import open_dossiers

    kwargs.setdefault("kind", Dossier.Kind.CLASSIC)
    kwargs.setdefault("title", "Annual review")
    if kwargs.get("update_group_id") is not None and "policy" not in kwargs:
        # A group's dossier carries its group's policy, as the fan-out hands it over.
        from monitoring.models import UpdateGroup

        with scopes_disabled():
            group = UpdateGroup.objects.get(pk=kwargs["update_group_id"])
        kwargs["policy"] = group.request_policy()
    with scope(organization=org):
        [dossier_id] = open_dossiers(org, [profile.pk], fields, **kwargs)
        return Dossier.objects.select_related("profile").get(pk=dossier_id)


def token(dossier: Any, recipient: Profile | None = None) -> str:
    from django_scopes import scope

    from dossiers.models import AccessToken
    from dossiers.selectors import recipients

    with scope(organization=dossier.organization):
        return AccessToken.issue(dossier, recipient or recipients(dossier)[0])


def group(org: Any, fields: list[DataField] = (), **kwargs: Any) -> Any:
    import datetime as dt

    from monitoring import overview
    from monitoring.models import GroupField, UpdateGroup

    defaults = {
        "title": "KYC",
        "applies_to": Kind.CONTACT,
        "start_date": dt.date(2024, 1, 31),
        "interval_count": 1,
        "interval_unit": "months",
    }
    with scopes_disabled():
        g = UpdateGroup(organization=org, **{**defaults, **kwargs})
        g.schedule_from()
        g.save()
        for f in fields:
            GroupField.objects.create(
                field=f, group=g, organization_id=f.organization_id, applies_to=f.applies_to
            )
        if fields:
            overview.refresh(org.pk, field_ids=[f.pk for f in fields])
    return g


def saved_group(
    org: Any,
    fields: list[DataField],
    *,
    cadence: str,
    interval_count: int,
    title: str = "KYC",
    interval_unit: str = "months",
    **kwargs: Any,
) -> Any:
    """A contacts' group saved through its action, as its form saves it: a rolling or tiered
    group gets its schedule rows and audit entry, which `group` above leaves out."""
    import datetime as dt

    from django_scopes import scope

    from monitoring.actions import save_group
    from monitoring.models import UpdateGroup
    from organizations.actors import Actor

    group = UpdateGroup(
        organization=org,
        title=title,
        applies_to=Kind.CONTACT,
        start_date=dt.date(2026, 1, 1),
        interval_count=interval_count,
        interval_unit=interval_unit,
        cadence=cadence,
        **kwargs,
    )
    group.schedule_from()
    with scope(organization=org):
        return save_group(group, actor=Actor.system("test"), fields=fields)


def set_review(group: Any, required: bool = True) -> Any:
    """Review turned on (or off) for a group as its form does: through the group's save,
    which hands the change to its running dossiers."""
    from django_scopes import scope

    from monitoring.actions import save_group
    from organizations.actors import Actor

    group.review_required = required
    with scope(organization=group.organization):
        return save_group(group, actor=Actor.system("group settings"))


def approve_all(staff_client, dossier_url: str):
    """ "Approve all" as staff do it: the page of what will change, then its confirmation."""
    page = staff_client.get(dossier_url + "approve/")
    shown = [change["token"] for change in page.context["changes"]] if page.context else []
    return staff_client.post(dossier_url + "approve/", {"confirm": "yes", "shown": shown})


def group_id_of(field: DataField) -> int | None:
    """The id of the group `field` belongs to, or None (monitoring's GroupField)."""
    from monitoring.models import GroupField

    return (
        GroupField._base_manager.filter(field_id=field.pk)
        .values_list("group_id", flat=True)
        .first()
    )
