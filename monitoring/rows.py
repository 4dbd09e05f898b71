"""The rows of a run's outstanding list and of the compliance overview, rendered in Python.

Fifty rows through the template, each a dozen nodes with two reversed links, were the larger
part of each page's own time once its queries were narrow (docs/PERFORMANCE.md). These are
the same rows from string formatting, every value escaped as the template escaped it, each
link's pattern reversed once (`organizations.links.row_link`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from organizations.display import day, moment
from organizations.links import row_link

# What the template wrote for a date or a moment it did not have.
NONE = "—"


def outstanding_html(
    org_slug: str, rows: Iterable[tuple[Any, ...]], unreached: Collection[Any]
) -> SafeString:
    """The outstanding list's rows: (last, first, company, profile UUID, status label, first
    opened, dossier UUID, e-mail), those in `unreached` marked."""
    profile_url = row_link("profiles:detail", org_slug)
    dossier_url = row_link("dossiers:record", org_slug)
    badge = escape(_("Not reached: address failing"))
    dossier = escape(_("Dossier"))
    html = []
    for last, first, company, profile_uuid, label, opened_at, ref, _email in rows:
        name = escape(company) if company else f"{escape(first)} {escape(last)}"
        mark = f' <span class="badge bad">{badge}</span>' if ref in unreached else ""
        html.append(
            f'<tr><td><a href="{escape(profile_url(profile_uuid))}">{name}</a></td>'
            f"<td>{escape(label)}{mark}</td>"
            f"<td>{escape(moment(opened_at)) or NONE}</td>"
            f'<td><a href="{escape(dossier_url(ref))}">{dossier}</a></td></tr>'
        )
    return mark_safe("".join(html))  # noqa: S308 - every value escaped above


def overview_html(org_slug: str, cells: Iterable[dict[str, Any]]) -> SafeString:
    """The overview's rows, one (profile, field) cell each, as `compliance_overview` shapes
    them (labels, badge, UUIDs)."""
    profile_url = row_link("profiles:detail", org_slug)
    dossier_url = row_link("dossiers:detail", org_slug)
    open_request = escape(_("Open request"))
    unanswered = escape(_("Unanswered request"))
    html = []
    for cell in cells:
        name: str
        if cell["company_name"]:
            name = escape(cell["company_name"])
        else:
            name = f"{escape(cell['first_name'])} {escape(cell['last_name'])}"
        status = ""
        if cell["status_label"]:
            status = (
                f'<span class="badge {escape(cell["badge"])}">{escape(cell["status_label"])}</span>'
            )
        request = ""
        if cell["open_dossier"]:
            request = f'<a href="{escape(dossier_url(cell["open_dossier"]))}">{open_request}</a>'
        elif cell["overdue_dossier"]:
            request = f'<a href="{escape(dossier_url(cell["overdue_dossier"]))}">{unanswered}</a>'
        html.append(
            f'<tr><td><a href="{escape(profile_url(cell["profile_uuid"]))}">{name}</a></td>'
            f"<td>{escape(cell['field_label'])}</td>"
            f"<td>{escape(cell['group_title'])}</td>"
            f"<td>{status}</td>"
            f"<td>{escape(day(cell['expires_on'])) or NONE}</td>"
            f"<td>{request}</td></tr>"
        )
    return mark_safe("".join(html))  # noqa: S308 - every value escaped above
