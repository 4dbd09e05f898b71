"""The rows of the dossier list, rendered in Python.

Twenty-five rows through the template (a translated label, a link, an included badge and two
dates each) were most of the list's own time (docs/PERFORMANCE.md). These are the same rows
from string formatting, every value escaped as the template escaped it; the badge reads as
templates/dossiers/status_badge.html, which the other dossier pages keep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape

from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from dossiers.models import Dossier
from organizations.display import day
from organizations.links import row_link

_BADGE_CLASS: dict[str, str] = {
    Dossier.Status.SUBMITTED: "ok",
    Dossier.Status.APPROVED: "ok",
    Dossier.Status.EXPIRED: "bad",
    Dossier.Status.SUPERSEDED: "bad",
    Dossier.Status.IN_PROGRESS: "warn",
    Dossier.Status.TO_REVIEW: "warn",
    Dossier.Status.CHANGES_REQUESTED: "warn",
}


def selected(rows: QuerySet[Dossier]) -> QuerySet[Dossier]:
    """The rows with their profiles and groups, and only the columns the rows show: whole
    rows of three tables were the page's costliest query to turn into objects."""
    return rows.select_related("profile", "update_group").only(
        "uuid",
        "kind",
        "status",
        "title",
        "created_at",
        "expires_at",
        "profile__kind",
        "profile__first_name",
        "profile__last_name",
        "profile__email",
        "profile__name",
        "update_group__title",
        "update_group__translations",
    )


def rows_html(dossiers: Iterable[Dossier], org_slug: str, current_app: str | None) -> SafeString:
    """The rows of a page of the list, read through `selected`.

    `html.escape` is the escaping of Django's `escape` (which wraps it), without its check
    for lazy arguments on each call."""
    link = row_link("dossiers:detail", org_slug, current_app=current_app)
    # Each label and message looked up once for the page, not once per row.
    statuses = {value: escape(str(label)) for value, label in Dossier.Status.choices}
    kinds = {value: escape(str(label)) for value, label in Dossier.Kind.choices}
    select = _("Select %(title)s — %(name)s")
    days: dict[dt.datetime, str] = {}

    def day_of(moment: dt.datetime) -> str:
        if moment not in days:
            days[moment] = escape(day(moment))
        return days[moment]

    rows = []
    for dossier in dossiers:
        name = escape(dossier.profile.display_name)
        kind = (
            f' <span class="muted">· {kinds.get(dossier.kind) or escape(dossier.kind)}</span>'
            if dossier.update_group
            else ""
        )
        # The words of the template's {% blocktranslate %}, its values escaped as it does.
        label = select % {"title": escape(dossier.title), "name": name}
        rows.append(
            "\n      <tr>\n"
            f'        <td><input type="checkbox" form="bulk" name="dossier" value="{dossier.uuid}"'
            f' aria-label="{label}"></td>\n'
            f'        <td><a href="{escape(link(dossier.uuid))}">{name}</a></td>\n'
            f"        <td>{escape(dossier.local_title)}{kind}</td>\n"
            f'        <td><span class="badge {_BADGE_CLASS.get(dossier.status, "")}">'
            f"{statuses.get(dossier.status) or escape(dossier.status)}</span>\n</td>\n"
            f"        <td>{day_of(dossier.created_at)}</td>\n"
            f"        <td>{day_of(dossier.expires_at)}</td>\n"
            "      </tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped above
