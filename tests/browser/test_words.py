"""Which language am I typing in: the group and field forms in French, each text beside its
translation, and a profile whose sections read in French (screenshots to look at)."""

from __future__ import annotations

import pytest
from django_scopes import scope

from organizations.actors import Actor
from profiles.actions import set_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_forms_name_the_language_of_each_text_in_french(browser, axe, live_server, shots, org):
    org.default_language = "en"
    org.save()
    make_member(org, "alice", "admin")
    field = factories.field(
        org,
        "date",
        label="Date of birth",
        section="Identity",
        translations={"fr": {"label": "Date de naissance", "section": "Identité"}},
    )
    factories.group(
        org,
        [field],
        title="Yearly review",
        message="Please check your details.",
        translations={"fr": {"title": "Revue annuelle", "message": "Merci de vérifier."}},
    )
    profile = factories.contact(org, first_name="Claire", last_name="Martin", language="fr")
    with scope(organization=org):
        set_values(profile, actor=Actor.system("test"), values=[(field, "1990-04-01")])
    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/new/")
    assert page.locator("label[for=id_title]").inner_text() == "Titre (anglais)"
    assert page.locator("label[for=id_title_fr]").inner_text() == "Titre (français)"
    # Side by side at a desk: the French title's input starts level with the English one.
    english, french = (page.locator(s).bounding_box() for s in ("#id_title", "#id_title_fr"))
    assert english and french and abs(english["y"] - french["y"]) < 2 < french["x"] - english["x"]
    axe.check(page)
    page.screenshot(path=str(shots / "40-group-form-languages-fr.png"), full_page=True)
    page.goto(f"{live_server.url}/o/{org.slug}/settings/field/{field.uuid}/")
    assert page.locator("label[for=id_section_fr]").inner_text() == "Rubrique (français)"
    axe.check(page)
    page.screenshot(path=str(shots / "41-field-form-languages-fr.png"), full_page=True)
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{profile.uuid}/")
    assert page.locator("h3", has_text="Identité").count() == 1
    axe.check(page)
    page.screenshot(path=str(shots / "42-profile-sections-fr.png"), full_page=True)
    # On a phone the two languages stack, the default one first.
    phone = axe.context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    phone.add_cookies(context.cookies())
    small = phone.new_page()
    small.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/new/")
    english, french = (small.locator(s).bounding_box() for s in ("#id_title", "#id_title_fr"))
    assert english and french and french["y"] > english["y"]
    axe.check(small)
    small.screenshot(path=str(shots / "43-group-form-languages-fr-phone.png"), full_page=True)
