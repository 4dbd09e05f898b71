"""A filter select walked with the keyboard does not reload the page at each arrow key
(WCAG 3.2.2): the choice applies on Enter or when focus leaves; a pointer applies at once."""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _dossier_list(browser, live_server, org):
    make_member(org, "alice", "staff")
    factories.contact(org)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/")
    return page


def test_arrow_keys_walk_the_options_and_enter_applies(browser, live_server, org):
    page = _dossier_list(browser, live_server, org)
    select = page.locator("select#status")
    options = select.locator("option").count()
    assert options >= 5
    select.focus()
    for _ in range(4):
        select.press("ArrowDown")
    page.wait_for_timeout(300)
    assert "status=" not in page.url  # not reloaded on the way
    chosen = select.input_value()
    assert chosen  # the fourth step is reachable
    with page.expect_navigation():
        select.press("Enter")
    assert f"status={chosen}" in page.url
    assert page.locator("select#status").input_value() == chosen


def test_leaving_the_select_applies_a_keyboard_choice(browser, live_server, org):
    page = _dossier_list(browser, live_server, org)
    select = page.locator("select#status")
    select.focus()
    select.press("ArrowDown")
    chosen = select.input_value()
    with page.expect_navigation():
        select.press("Tab")
    assert f"status={chosen}" in page.url


def test_a_pointer_choice_applies_at_once(browser, live_server, org):
    page = _dossier_list(browser, live_server, org)
    with page.expect_navigation():
        page.select_option("select#status", index=2)
    assert "status=" in page.url
