"""Review in place in a real browser, in French and English: the keyboard decides item by
item without a reload, never while typing, and Undo takes a decision back; a run being sent
shows a progress bar that moves on its own and ends on the result."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import UpdateRun
from profiles.models import Document
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "fr": {
        "approved": "Approuvé",
        "undone": "Renvoi au client annulé",
        "sent_back": "Renvoyé une fois au client",
        "opening": "dossiers ouverts",
        "completion": "Taux de réponse",
        "remind": "Relancer tous ceux qui n\u2019ont pas répondu",
        "send_12": "Envoyer 12 relances",
        "sent_12": "12 relances envoyées sur 12.",
        "already_12": "12 clients ont déjà été relancés dans l\u2019heure",
    },
    "en": {
        "approved": "Approved and written",
        "undone": "Sending back undone",
        "sent_back": "Sent back once",
        "opening": "dossiers opened",
        "completion": "Completion",
        "remind": "Remind all outstanding",
        "send_12": "Send 12 reminders",
        "sent_12": "12 of 12 reminders sent.",
        "already_12": "12 clients were already reminded within this hour",
    },
}


def _signed_in(axe, live_server, language: str):
    context = axe.context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR" if language == "fr" else "en-GB"
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    return page


def _submitted_dossier(org):
    job = factories.field(org, "text", label="Profession")
    proof = factories.field(org, "document", label="Justificatif de domicile")
    claire = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=claire,
            field=proof,
            file="documents/on-file",
            name="ancienne-facture.pdf",
            content_type="application/pdf",
            size=10,
        )
        apply_values(
            claire,
            [NewValue(job, "Boulangère"), NewValue(proof, str(document.uuid), document)],
            source="staff",
        )
    group = factories.group(org, [job, proof], title="KYC annuel", review_required=True)
    dossier = factories.dossier(
        org,
        claire,
        [job, proof],
        kind=Dossier.Kind.UPDATE,
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
        title="KYC annuel",
    )
    answered = Client().post(
        f"/d/{factories.token(dossier)}/",
        {
            f"f_{job.uuid.hex}": "Cheffe de cuisine",
            f"f_{proof.uuid.hex}": SimpleUploadedFile(
                "facture-mars.pdf", factories.PDF, "application/pdf"
            ),
            "action": "submit",
        },
    )
    assert answered.status_code == 302
    return dossier, job, proof


def _review(item_field) -> str:
    with scopes_disabled():
        return DossierItem.objects.get(field=item_field).review


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_keyboard_reviews_in_place_and_undo_takes_a_decision_back(
    browser, axe, live_server, shots, org, settings, language
):
    settings.SITE_URL = live_server.url
    org.default_language = language
    org.save()
    make_member(org, "alice", "staff")
    dossier, job, proof = _submitted_dossier(org)
    words = WORDS[language]
    page = _signed_in(axe, live_server, language)
    # The confirmation is answered in the page, and what it asked recorded: a native dialog
    # raised by a key press could close before the browser's handler accepted it on a busy
    # machine, and the send-back then never went.
    page.add_init_script(
        "window.confirmed = [];"
        "window.confirm = function (message) { window.confirmed.push(message); return true; };"
    )
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/{dossier.uuid}/")
    assert page.title().startswith("Claire Martin · KYC annuel")
    # A mark on the window: a page reloaded would lose it.
    page.evaluate("window.reviewedInPlace = true")

    # j selects the first answer, a approves it: only its row changes.
    page.keyboard.press("j")
    page.keyboard.press("a")
    job_row = page.locator(f"#item-{job.uuid.hex}")
    job_row.locator(".notice").wait_for()
    # The row swapped in is the current one from the moment it shows.
    assert job_row.get_attribute("aria-current") == "true"
    assert words["approved"] in job_row.inner_text()
    assert _review(job) == "approved"

    # Typing a reason full of "a", "j", "s" and "u" decides nothing.
    page.keyboard.press("j")
    page.keyboard.press("s")
    reason = page.locator(f"#reason-{proof.uuid.hex}")
    assert reason.evaluate("element => element === document.activeElement")
    reason.type("La facture est coupée, il manque la page avec l'adresse")
    assert _review(proof) == "pending"
    # Ctrl+Enter sends it back, after the confirmation that says what will happen.
    reason.press("Control+Enter")
    proof_row = page.locator(f"#item-{proof.uuid.hex}")
    proof_row.locator("[data-review-undo]").wait_for()
    [asked] = page.evaluate("window.confirmed")
    assert proof.label in asked
    assert _review(proof) == "rejected"
    assert words["sent_back"] in proof_row.inner_text()
    assert "facture-mars.pdf" in proof_row.inner_text()
    assert page.evaluate("window.reviewedInPlace") is True
    axe.check(page, f"review-{language}")
    page.screenshot(path=str(shots / f"review-{language}.png"), full_page=True)

    # u undoes the decision just made: the item waits again, the file back with it.
    page.keyboard.press("u")
    proof_row.locator("[data-review-approve]").wait_for()
    assert words["undone"] in proof_row.inner_text()
    assert _review(proof) == "pending"
    assert page.evaluate("window.reviewedInPlace") is True
    axe.check(page, f"review-undone-{language}")
    page.screenshot(path=str(shots / f"review-undone-{language}.png"), full_page=True)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_run_being_sent_shows_a_progress_bar_that_ends_on_the_result(
    browser, axe, live_server, shots, org, language
):
    org.default_language = language
    org.save()
    make_member(org, "alice", "staff")
    field = factories.field(org, "text", label="Adresse")
    for i in range(5):
        factories.contact(org, first_name="Client", last_name=f"{i:02d}")
    group = factories.group(org, [field], title="Adresses", start_date=timezone.localdate())
    run_id = dispatch_group_now(group.pk, fan_out=False)
    # Half-way through: five dossiers opened, seven clients still to go.
    open_run(run_id)
    with scopes_disabled():
        UpdateRun.objects.filter(pk=run_id).update(finished_at=None)
        run = UpdateRun.objects.get(pk=run_id)
    for i in range(5, 12):
        factories.contact(org, first_name="Client", last_name=f"{i:02d}")
    page = _signed_in(axe, live_server, language)
    url = f"{live_server.url}/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period}/"
    page.goto(url)
    bar = page.locator("#run-progress progress")
    assert bar.get_attribute("max") == "12" and bar.get_attribute("value") == "5"
    assert WORDS[language]["opening"] in page.locator("#run-progress").inner_text()
    axe.check(page, f"progress-{language}")
    page.screenshot(path=str(shots / f"progress-{language}.png"), full_page=True)
    # A reload shows the same.
    page.reload()
    page.locator("#run-progress progress").wait_for()
    open_run(run_id)
    # The poll sees the run finished and the page reloads itself to the result.
    page.locator("#run-progress").wait_for(state="hidden", timeout=10_000)
    assert WORDS[language]["completion"] in page.locator(".stats").inner_text()
    axe.check(page, f"progress-done-{language}")
    page.screenshot(path=str(shots / f"progress-done-{language}.png"), full_page=True)

    # "Remind all" says how many it will send; once sent, the page counts them, and asking
    # again within the hour says why nothing more will go.
    page.click(f"text={WORDS[language]['remind']}")
    axe.check(page, f"remind-{language}")
    page.screenshot(path=str(shots / f"remind-{language}.png"), full_page=True)
    page.click(f"button:has-text('{WORDS[language]['send_12']}')")
    page.locator("#run-progress").wait_for()
    assert WORDS[language]["sent_12"] in page.locator("#run-progress").inner_text()
    page.click(f"text={WORDS[language]['remind']}")
    assert WORDS[language]["already_12"] in page.locator("main").inner_text()
    assert page.locator("form button.primary").count() == 0
    axe.check(page, f"remind-again-{language}")
    page.screenshot(path=str(shots / f"remind-again-{language}.png"), full_page=True)
