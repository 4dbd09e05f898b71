"""The whole journey in a real browser: admin, dispatcher, client on a phone, staff."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from monitoring.dispatch import dispatch_due
from monitoring.models import GroupDue, UpdateGroup
from profiles.models import DataField, FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page, shots, name: str, axe) -> None:
    """A screenshot of the page as it is, checked with axe first."""
    axe.check(page, name)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_the_whole_journey(browser, axe, live_server, shots, org, tmp_path, settings):
    settings.SITE_URL = live_server.url
    org.default_language = "en"  # texts written in English, translated into French
    org.save()
    make_member(org, "alice", "admin")
    client_profile = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="en"
    )
    french_client = factories.contact(
        org, first_name="Louise", last_name="Bernard", email="louise@example.com", language="fr"
    )
    staff = axe.context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = staff.new_page()
    # A send-back asks for confirmation (hx-confirm): the member confirms.
    page.on("dialog", lambda dialog: dialog.accept())

    # a. The admin logs in and sets up fields and an update group.
    page.goto(f"{live_server.url}/login/")
    _shot(page, shots, "01-login", axe)
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.click("nav.mainnav >> text=Settings")
    page.click("text=New field")
    page.fill("#id_label", "Home address")
    page.select_option("#id_type", "text")
    # A text field has no list or document options: only the chosen type's show.
    assert not page.is_visible("#id_max_size_mb")
    assert not page.is_visible("#id_choices_text")
    page.fill("#id_label_fr", "Adresse")
    page.click("button.primary")
    assert page.is_visible("text=The field “Home address” was created.")
    page.click("text=New field")
    page.fill("#id_label", "Proof of address")
    page.select_option("#id_type", "document")
    assert page.is_visible("#id_max_size_mb")
    assert not page.is_visible("#id_choices_text")
    page.fill("#id_help_text", "A bill or a statement less than 3 months old.")
    page.click("button.primary")
    _shot(page, shots, "02-data-fields", axe)
    page.click("nav.tabs >> text=Data monitoring")
    with scopes_disabled():
        factories.field(org, "text", applies_to="company", label="Turnover")
    page.click("text=New group")
    page.fill("#id_title", "Proof of address")
    page.fill("#id_message", "Please send a recent proof of address.")
    page.fill("#id_title_fr", "Justificatif de domicile")
    page.fill("#id_message_fr", "Merci d'envoyer un justificatif de domicile récent.")
    # Only the chosen type's fields are listed; htmx swaps them when the type changes.
    assert not page.is_visible("label:has-text('Turnover')")
    page.select_option("#id_applies_to", "company")
    page.wait_for_selector("#group-fields label:has-text('Turnover')")
    assert not page.is_visible("label:has-text('Home address')")
    page.select_option("#id_applies_to", "contact")
    page.wait_for_selector("#group-fields label:has-text('Home address')")
    page.check("#group-fields label:has-text('Home address') input[name=fields]")
    page.check("#group-fields label:has-text('Proof of address') input[name=fields]")
    # The custom "every N unit" shows only for a custom frequency.
    assert not page.is_visible("#id_interval_count")
    page.select_option("#id_frequency", "custom")
    assert page.is_visible("#id_interval_count")
    page.select_option("#id_frequency", "3-months")
    assert not page.is_visible("#id_interval_count")
    # The next six dates and the recipients are previewed before saving.
    page.fill("#id_start_date", "2030-01-31")
    page.dispatch_event("#id_start_date", "change")
    page.wait_for_selector("#group-preview li:has-text('2030')")
    assert page.locator("#group-preview ol.upcoming li").count() == 6
    assert page.is_visible("#group-preview >> text=Each update asks 2 contacts.")
    page.fill("#id_start_date", timezone.localdate(timezone=org.tzinfo).isoformat())
    page.dispatch_event("#id_start_date", "change")
    # Near midnight the organisation's day may already be tomorrow: wait for the preview to
    # change rather than for a year.
    page.wait_for_selector("#group-preview li:has-text('2030')", state="detached")
    page.check("#id_review_required")
    _shot(page, shots, "03-group-form", axe)
    page.click("button.primary")
    assert page.is_visible("h1:has-text('Proof of address')")
    assert page.locator("ol.upcoming li").count() == 6
    _shot(page, shots, "03-update-group", axe)

    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/new/")
    held = page.locator("#group-fields label:has-text('Home address') input[name=fields]")
    assert held.is_disabled()
    assert page.is_visible("text=Home address — in “Proof of address”")
    # Even a crafted form that re-enables the box is refused, naming the group.
    held.evaluate("el => el.disabled = false")
    page.fill("#id_title", "Second group")
    held.check()
    page.fill("#id_start_date", "2030-01-01")
    page.click("button.primary")
    assert page.is_visible("text=“Home address” already belongs to the group “Proof of address”.")
    _shot(page, shots, "04-field-refused", axe)

    # b. The dispatcher runs; the client follows the e-mailed link.
    with scopes_disabled():
        address = DataField.objects.get(label="Home address")
        apply_values(client_profile, [NewValue(address, "1 rue de la Paix")], source="staff")
        GroupDue.objects.update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    dispatch_due()
    [message] = [m for m in mail.outbox if m.to == ["claire@example.com"]]
    [french_message] = [m for m in mail.outbox if m.to == ["louise@example.com"]]
    link = re.search(r"(http://\S+/d/\S+/)", message.body).group(1)
    french_link = re.search(r"(http://\S+/d/\S+/)", french_message.body).group(1)
    assert message.from_email.startswith(f"{org.name} via ")

    # The e-mails as a mail client shows them: HTML, in each client's language.
    reader = staff.new_page()
    reader.set_viewport_size({"width": 700, "height": 800})
    reader.set_content(message.alternatives[0][0])
    assert reader.is_visible("text=Home address")
    assert reader.is_visible("text=Please send a recent proof of address.")
    _shot(reader, shots, "20-email", axe)
    reader.set_content(french_message.alternatives[0][0])
    assert reader.is_visible("text=Adresse")
    assert reader.is_visible("text=Justificatif de domicile")
    _shot(reader, shots, "21-email-fr", axe)
    reader.close()

    phone = axe.context(viewport={"width": 390, "height": 844}, locale="en-GB")
    portal = phone.new_page()
    portal.goto(link)
    assert portal.is_visible(f"text={org.name}")
    address_input = portal.locator("input[type=text]").first
    assert address_input.input_value() == "1 rue de la Paix"
    assert portal.is_visible("text=A bill or a statement less than 3 months old.")
    _shot(portal, shots, "05-portal-phone", axe)
    address_input.fill("8 avenue Foch")
    proof = tmp_path / "electricity bill.pdf"
    proof.write_bytes(factories.PDF)
    portal.set_input_files("input[type=file]", str(proof))
    portal.click("button:has-text('Save draft')")
    assert portal.is_visible("text=Your draft was saved.")
    portal.goto(link)  # the client comes back later
    assert portal.locator("input[type=text]").first.input_value() == "8 avenue Foch"
    assert portal.is_visible("text=electricity_bill.pdf")
    _shot(portal, shots, "06-portal-draft", axe)
    portal.click("button:has-text('Submit')")
    assert portal.is_visible("h1:has-text('Thank you')")
    assert portal.is_visible("text=will check them")
    _shot(portal, shots, "07-portal-submitted", axe)

    # Review: staff send the proof back with a reason and approve the address.
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    page.click("nav.mainnav >> text=To review")
    page.click("text=Claire Martin")
    assert page.is_visible("text=1 rue de la Paix") and page.is_visible("text=8 avenue Foch")
    assert page.locator(".preview iframe").count() == 1  # the PDF, previewed inline
    _shot(page, shots, "13-review", axe)
    with scopes_disabled():
        proof_key = DataField.objects.get(label="Proof of address").uuid.hex
        address_key = DataField.objects.get(label="Home address").uuid.hex
    page.fill(f"#reason-{proof_key}", "The bill must be less than 3 months old.")
    page.click(f"#item-{proof_key} >> button:has-text('Send back')")
    page.locator("text=The item was sent back to the client.").wait_for()
    page.click(f"#item-{address_key} >> button:has-text('Approve')")
    page.locator("text=Changes requested").first.wait_for()
    with scopes_disabled():
        assert FieldValue.objects.get(field__label="Home address").value == "8 avenue Foch"

    # The client answers again on the phone, only the item sent back.
    portal.goto(link)
    assert portal.is_visible("text=The bill must be less than 3 months old.")
    assert portal.locator("input[type=text]").count() == 0
    _shot(portal, shots, "14-portal-changes-requested", axe)
    recent = tmp_path / "recent bill.pdf"
    recent.write_bytes(factories.PDF)
    portal.set_input_files("input[type=file]", str(recent))
    portal.click("button:has-text('Submit')")
    assert portal.is_visible("h1:has-text('Thank you')")

    page.reload()
    page.click("button:has-text('Approve all')")
    # What will change, item by item, before anything is written: asked once.
    assert page.is_visible("text=recent_bill.pdf")
    _shot(page, shots, "15-approve-all", axe)
    page.click("button:has-text('Approve this change')")
    assert page.is_visible("text=Approved and written to the profile.")
    _shot(page, shots, "15-approved", axe)
    portal.goto(link)
    assert portal.is_visible("h1:has-text('Thank you')")
    assert portal.is_visible("text=8 avenue Foch")
    assert portal.locator("input[type=text], input[type=file]").count() == 0

    # c. Staff see the new values and their history, and use the "⋯" pop-up.
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    page.click("text=Claire Martin")
    assert page.is_visible("text=8 avenue Foch")
    assert page.is_visible("a:has-text('recent_bill.pdf')")
    _shot(page, shots, "08-profile", axe)
    page.click(f"#field-{address.uuid} >> text=history")
    assert page.is_visible("td:has-text('1 rue de la Paix')")
    assert page.is_visible("td:has-text('8 avenue Foch')")
    _shot(page, shots, "09-history", axe)
    page.go_back()
    with scopes_disabled():
        proof_field = DataField.objects.get(label="Proof of address")
        empty_field = factories.field(org, "text", label="Tax number")
    page.reload()
    page.click(f"#field-{proof_field.uuid} a.more-button")
    dialog = page.locator("dialog#dialog[open]")
    dialog.wait_for()
    assert dialog.locator("text=Every 3 months").is_visible()
    group_next = UpdateGroup.objects.with_scopes_disabled().get().next_date
    assert dialog.locator(f"text={group_next.year}").first.is_visible()
    _shot(page, shots, "10-popup", axe)
    dialog.locator("input[type=date]").fill("2027-06-30")
    dialog.locator("button:has-text('Save')").click()
    page.wait_for_selector("text=Valid until")
    with scopes_disabled():
        assert FieldValue.objects.get(field=proof_field).expires_on == dt.date(2027, 6, 30)
    assert page.locator(f"#field-{empty_field.uuid} .more-button").is_disabled()

    # Follow-up: the run's counts and who has not answered, the overview, sending on demand.
    factories.contact(org, first_name="Paul", last_name="Durand", email="paul@example.com")
    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/")
    page.click("a:has-text('Proof of address')")
    page.wait_for_selector("text=Dossiers go out at")
    page.click("table >> a >> nth=0")
    page.wait_for_selector("h1:has-text('Run of')")
    _shot(page, shots, "16-run-follow-up", axe)
    page.click("nav.mainnav >> text=Compliance")
    page.wait_for_selector("h1:has-text('Compliance overview')")
    _shot(page, shots, "17-overview", axe)
    page.go_back()
    page.go_back()
    page.click("a:has-text('Send now')")
    assert page.is_visible("text=3 recipients")  # Claire, Louise and Paul
    _shot(page, shots, "18-send-now", axe)
    page.click("button:has-text('Send now')")
    page.wait_for_selector("text=are being opened and sent")
    with scopes_disabled():
        assert sorted(
            Dossier.objects.filter(update_group__isnull=False).values_list(
                "profile__last_name", flat=True
            )
        ) == ["Bernard", "Durand", "Martin"]
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{client_profile.uuid}/")

    # d. The French client answers in French: the organisation's French texts, ISO dates.
    french_phone = axe.context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    french_portal = french_phone.new_page()
    french_portal.goto(french_link)
    assert french_portal.is_visible("h1:has-text('Justificatif de domicile')")
    assert french_portal.is_visible("label:has-text('Adresse')")
    french_portal.locator("input[type=text]").first.fill("3 place du Capitole")
    french_portal.set_input_files("input[type=file]", str(proof))
    _shot(french_portal, shots, "22-portal-fr-form", axe)
    french_portal.click("button[value=submit]")
    assert french_portal.is_visible("text=Merci")
    with scopes_disabled():
        item = DossierItem.objects.get(dossier__profile=french_client, field=address)
    assert item.answer == "3 place du Capitole"  # stored as typed, reviewed like any other
    french_phone.close()

    # e. The same pages in French.
    page.click("button[lang=fr]")
    assert page.is_visible("h2:has-text('Données')")
    _shot(page, shots, "11-profile-fr", axe)
    portal.click("button[lang=fr]")
    assert portal.is_visible("h1:has-text('Merci')")
    _shot(portal, shots, "12-portal-fr-phone", axe)
    staff.close()
    phone.close()
