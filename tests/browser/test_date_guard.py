"""The page-side guard of date inputs (issue 22): Chromium sends an empty value for a date
that does not exist (31/02), so the page holds the form back and says so beside the input,
in the page's language. The server refuses the empty answer anyway (tests/profiles)."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from profiles.models import FieldValue, Source
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(axe, live_server, org, locale: str):
    make_member(org, "alice", "staff")
    context = axe.context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    return page


def _type_31_february(date_input, year: str) -> None:
    """Types 31/02 as a person would, in the order the browser's date input shows (day first
    in a French or British Chromium, month first in an American one, as headless Chromium
    is whatever the page's language)."""
    for keys in (f"3102{year}", f"0231{year}"):
        date_input.evaluate("input => { input.value = ''; }")
        date_input.click(position={"x": 14, "y": 10})  # the first part of the date
        date_input.press_sequentially(keys)
        if date_input.evaluate("input => input.validity.badInput"):
            return
    pytest.fail("the browser did not take 31/02 as a date that does not exist")


@pytest.mark.parametrize(
    ("language", "locale", "message"),
    [("fr", "fr-FR", "Cette date n\u2019existe pas"), ("en", "en-GB", "This date does not exist")],
)
def test_a_date_that_does_not_exist_is_held_back_in_the_page(
    browser, axe, live_server, shots, org, language, locale, message
):
    org.default_language = language
    org.save()
    birth = factories.field(org, "date", label="Birth date")
    profile = factories.contact(org, language=language)
    with scopes_disabled():
        apply_values(profile, [NewValue(birth, "1985-03-01")], source=Source.STAFF)
        FieldValue.objects.update(expires_on=dt.date(2034, 3, 1))
    page = _signed_in(axe, live_server, org, locale)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )

    values_url = f"{live_server.url}/o/{org.slug}/profiles/{profile.uuid}/values/"
    page.goto(values_url)
    date_input = page.locator(f"input[name='f_{birth.uuid.hex}']")
    _type_31_february(date_input, "1985")
    page.click("button.primary")
    page.wait_for_selector("[data-bad-input-message]")
    assert message in page.inner_text("[data-bad-input-message]")
    assert page.url == values_url  # not sent
    axe.check(page)
    page.screenshot(path=str(shots / f"date-guard-values-{language}.png"), full_page=True)

    popup_url = (
        f"{live_server.url}/o/{org.slug}/profiles/{profile.uuid}/fields/{birth.uuid}/monitoring/"
    )
    page.goto(popup_url)
    expiry = page.locator("input[name='expires_on']")
    _type_31_february(expiry, "2035")
    page.click("button[value='save']")
    page.wait_for_selector("[data-bad-input-message]")
    assert message in page.inner_text("[data-bad-input-message]")
    assert page.url == popup_url
    axe.check(page)
    page.screenshot(path=str(shots / f"date-guard-popup-{language}.png"), full_page=True)

    # The "⋯" of the profile page: the pop-up in its dialog, posted by htmx.
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{profile.uuid}/")
    page.click("a.more-button")
    dialog = page.locator("dialog#dialog")
    dialog.locator("input[name='expires_on']").wait_for()
    _type_31_february(dialog.locator("input[name='expires_on']"), "2035")
    dialog.locator("button[value='save']").click()
    dialog.locator("[data-bad-input-message]").wait_for()
    assert message in dialog.inner_text()
    assert dialog.evaluate("dialog => dialog.open")
    axe.check(page)
    page.screenshot(path=str(shots / f"date-guard-dialog-{language}.png"), full_page=True)
    with scopes_disabled():
        value = FieldValue.objects.get()
    assert (value.value, value.expires_on) == ("1985-03-01", dt.date(2034, 3, 1))
