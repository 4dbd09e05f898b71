"""A new API key is shown once: the page offers to copy it, and says whether it could."""

from __future__ import annotations

import pytest

from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("language", "button", "said"),
    [("fr", "Copier", "Copié dans le presse-papiers."), ("en", "Copy", "Copied to the clipboard.")],
)
def test_the_new_key_is_copied_with_one_click(
    browser, live_server, shots, org, language, button, said
):
    make_member(org, "alice", "admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(f"{live_server.url}/o/{org.slug}/settings/api/")
    page.fill("#id_name", "CRM")
    page.click(
        "button.primary >> text=" + ("Créer la clé" if language == "fr" else "Create the key")
    )
    key = page.input_value("#new-key")
    assert len(key) > 20
    page.click(f"button[data-copy='new-key'] >> text={button}")
    page.wait_for_function(
        "said => document.querySelector('[data-copy-status=\"new-key\"]').textContent === said",
        arg=said,
    )
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.screenshot(path=str(shots / f"api-key-copied-{language}.png"))
