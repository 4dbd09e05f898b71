"""What assistive technology reads in the pages' markup, checked without a browser (the
browser tests run axe-core over every page: tests/browser/test_accessibility.py)."""

from __future__ import annotations

import lxml.html
import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def _tree(response) -> lxml.html.HtmlElement:
    assert response.status_code in (200, 400), response.status_code
    return lxml.html.fromstring(response.content)


def _described_ids_all_exist(tree) -> None:
    ids = set(tree.xpath("//@id"))
    for element in tree.xpath("//*[@aria-describedby]"):
        for ident in element.get("aria-describedby").split():
            assert ident in ids, (element.get("name"), ident)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/o/acme/contacts/new/", {"first_name": "Ada", "email": "not an address"}),
        ("/o/acme/settings/fields/monitoring/new/", {"applies_to": "nonsense"}),
        ("/o/acme/settings/fields/contacts/new/", {"type": "text"}),
    ],
)
def test_every_error_is_tied_to_its_input(owner_client, url, data):
    tree = _tree(owner_client.post(url, data))
    invalid = tree.xpath("//*[@aria-invalid='true']")
    assert invalid
    _described_ids_all_exist(tree)
    for element in invalid:
        described = element.get("aria-describedby", "").split()
        assert f"{element.get('id')}_error" in described
        [message] = tree.xpath(f"//*[@id='{element.get('id')}_error']")
        assert message.get("role") == "alert" and message.text_content().strip()


def test_a_page_opens_with_a_skip_link_and_keeps_its_messages_a_list(owner_client, org):
    factories.contact(org, first_name="Claire", last_name="Martin")
    response = owner_client.post(
        "/o/acme/contacts/new/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "language": "en",
        },
        follow=True,
    )
    assert response.redirect_chain
    tree = _tree(response)
    first = tree.xpath("//body//a")[0]
    assert first.get("href") == "#content" and first.get("class") == "skip-link"
    assert tree.xpath("//main[@id='content'][@tabindex='-1']")
    [messages] = tree.xpath("//ul[contains(@class, 'messages')]")
    assert messages.get("role") is None
    assert messages.getparent().get("role") == "status"


def test_no_table_header_is_empty_and_wide_tables_scroll_in_a_named_focusable_box(
    owner_client, org
):
    factories.contact(org, first_name="Claire", last_name="Martin")
    factories.field(org, "text", label="Home address")
    for url in ("/o/acme/contacts/", "/o/acme/settings/fields/contacts/", "/o/acme/settings/"):
        tree = _tree(owner_client.get(url))
        headers = tree.xpath("//th")
        assert headers, url
        for th in headers:
            assert th.text_content().strip() or th.xpath(".//input[@aria-label]"), url
        for table in tree.xpath("//table[contains(@class, 'table')]"):
            box = table.getparent()
            assert "table-wrap" in box.get("class", ""), url
            assert box.get("tabindex") == "0" and box.get("role") == "region", url
            assert box.get("aria-label"), url
