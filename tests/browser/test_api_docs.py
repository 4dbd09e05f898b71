"""The API's documentation page renders in a real browser, offline, under our CSP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_documentation_renders_without_a_csp_violation(browser, live_server, shots):
    page = browser.new_page()
    violations: list[str] = []
    outside: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused" in message.text
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((live_server.url, "data:"))
            else None
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("text=Back office API")
    page.wait_for_selector("text=/api/v1/profiles/")
    page.screenshot(path=str(shots / "31-api-docs.png"))
    assert violations == []
    assert outside == []
    page.close()


def test_an_admin_creates_a_key_and_sees_it_once(browser, axe, live_server, shots, org, owner):
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(owner)
    context = axe.context()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/o/{org.slug}/settings/api/")
    page.fill("#id_name", "CRM sync")
    page.check("input[name=access][value=write]")
    page.click("text=Create the key")
    key = page.input_value("#new-key")
    assert key.startswith("bo_")
    axe.check(page)
    page.screenshot(path=str(shots / "30-api-keys.png"), full_page=True)
    page.goto(f"{live_server.url}/o/{org.slug}/settings/api/")
    assert key not in page.content()
    context.close()
