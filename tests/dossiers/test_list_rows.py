"""The dossier list's rows, rendered in Python (dossiers.list_rows), as a reader sees them:
escaped, each status with its badge, a group's request with its kind, in English and French."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from tests import factories

pytestmark = pytest.mark.django_db


def _row(html: str, dossier) -> str:
    start = html.index(f'value="{dossier.uuid}"')
    start = html.rindex("<tr>", 0, start)
    return html[start : html.index("</tr>", start) + len("</tr>")]


@time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
def test_each_row_reads_as_the_template_wrote_it(member_client, org):
    field = factories.field(org, "text")
    group = factories.group(org, [field], title="KYC <yearly>")
    classic = factories.dossier(
        org, factories.contact(org, first_name="<Ann>", last_name="O'Neil"), [field], title="A&B"
    )
    update = factories.dossier(
        org,
        factories.contact(org, first_name="Bob", last_name="Roe", email="bob@example.com"),
        [field],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 2, 28),
    )
    with scopes_disabled():
        Dossier.objects.filter(pk=classic.pk).update(status=Dossier.Status.TO_REVIEW)

    html = member_client.get(f"/o/{org.slug}/dossiers/").text
    assert _row(html, classic) == (
        "<tr>\n"
        f'        <td><input type="checkbox" form="bulk" name="dossier" value="{classic.uuid}"'
        ' aria-label="Select A&amp;B — &lt;Ann&gt; O&#x27;Neil"></td>\n'
        f'        <td><a href="/o/{org.slug}/dossiers/{classic.uuid}/">&lt;Ann&gt; O&#x27;Neil</a>'
        "</td>\n"
        "        <td>A&amp;B</td>\n"
        '        <td><span class="badge warn">To review</span>\n</td>\n'
        "        <td>02/03/2026</td>\n"
        "        <td>02/04/2026</td>\n"
        "      </tr>"
    )
    row = _row(html, update)
    assert '<td>KYC &lt;yearly&gt; <span class="muted">· Update</span></td>' in row
    assert '<span class="badge ">Sent</span>' in row

    member_client.cookies["django_language"] = "fr"
    french = member_client.get(f"/o/{org.slug}/dossiers/").text
    assert 'aria-label="Sélectionner A&amp;B — &lt;Ann&gt; O&#x27;Neil"' in _row(french, classic)
    assert '<span class="badge warn">À vérifier</span>' in _row(french, classic)
    assert '<span class="muted">· Mise à jour</span>' in _row(french, update)
    assert '<span class="badge ">Envoyé</span>' in _row(french, update)


def test_an_empty_list_says_so(member_client, org):
    html = member_client.get(f"/o/{org.slug}/dossiers/?status=approved").text
    assert (
        '<tbody>\n    \n      <tr><td colspan="6" class="muted">No dossier matches.'
        f' <a href="/o/{org.slug}/dossiers/">Clear filters</a></td></tr>\n    \n    </tbody>'
    ) in html
