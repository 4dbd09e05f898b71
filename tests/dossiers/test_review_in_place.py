"""Review in place: one item's row swapped per decision, Undo, the answers sent back kept."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import DossierItem, ItemRejection
from dossiers.review import UNDO_GRACE, UNDO_OFFERED
from organizations.models import AuditEntry
from outbox.mail import send_due
from outbox.models import Message
from profiles.services import NewValue, apply_values
from tests import factories
from tests.dossiers.conftest import _history, _pdf, _reload, _value

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(org, reviewed) -> str:
    return f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"


def _item(field) -> DossierItem:
    with scopes_disabled():
        return DossierItem.objects.get(field=field)


def _actions(org) -> list[str]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(organization=org).values_list("action", flat=True))


def test_approving_in_place_answers_with_that_row_and_the_review_bar_only(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    response = member_client.post(
        url + "approve/", {"item": reviewed["job"].uuid.hex}, HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text and text.count("data-review-item") == 1
    assert f'id="item-{reviewed["job"].uuid.hex}"' in text
    assert "Approved and written to the profile." in text
    assert "data-review-undo" in text
    # The bar and the status badge, swapped out of band: one answer left.
    assert 'id="review-bar"' in text and 'hx-swap-oob="true"' in text
    assert "1 answer waits for your review" in text
    assert _value(reviewed["job"]).value == "Chef"


def test_without_javascript_a_decision_returns_to_its_item_on_the_page(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    response = member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-{reviewed['job'].uuid.hex}")
    page = member_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "Approved and written to the profile." in page.text
    assert "data-review-undo" in page.text


def test_the_page_names_the_client_in_the_title_and_documents_the_shortcuts(
    member_client, org, reviewed
):
    page = member_client.get(_url(org, reviewed), HTTP_ACCEPT_LANGUAGE="fr").text
    name = reviewed["profile"].display_name
    assert f"<title>{name} · " in page
    assert "Raccourcis clavier" in page and "<kbd>j</kbd>" in page
    assert "js/review.js" in page


def test_a_send_back_without_a_reason_stays_in_place_with_the_error_on_its_field(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    key = reviewed["proof"].uuid.hex
    for language, said in (("en", "Say what the client"), ("fr", "Indiquez")):
        response = member_client.post(
            url + "reject/", {"item": key, "reason": "  "}, HTTP_ACCEPT_LANGUAGE=language, **HTMX
        )
        assert response.status_code == 200
        assert 'aria-invalid="true"' in response.text and said in response.text
        assert f'aria-describedby="reason-error-{key}"' in response.text
        assert f'id="reason-error-{key}"' in response.text
    assert _reload(reviewed["dossier"]).status == "to_review"
    assert _item(reviewed["proof"]).review == "pending"
    # Without JavaScript: the page, 400, the error on the field.
    page = member_client.post(url + "reject/", {"item": key, "reason": ""})
    assert page.status_code == 400 and f'id="reason-error-{key}"' in page.text


def test_a_file_sent_back_stays_visible_to_staff_and_in_the_history(
    member_client, outsider_client, org, other_org, reviewed
):
    url = _url(org, reviewed)
    key = reviewed["proof"].uuid.hex
    response = member_client.post(
        url + "reject/", {"item": key, "reason": "The bill is cut off"}, **HTMX
    )
    assert response.status_code == 200
    with scopes_disabled():
        rejection = ItemRejection.objects.get()
    assert rejection.upload_name == "new-bill.pdf" and rejection.upload
    assert rejection.reason == "The bill is cut off"
    assert not _item(reviewed["proof"]).upload
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    file_url = f"{url}sent-back/{rejection.pk}/"
    assert "Sent back once" in page and file_url in page and "new-bill.pdf" in page
    served = member_client.get(file_url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == factories.PDF
    assert (
        outsider_client.get(
            f"/o/{other_org.slug}/dossiers/{reviewed['dossier'].uuid}/sent-back/{rejection.pk}/"
        ).status_code
        == 404
    )


def test_undoing_a_send_back_before_the_other_answers_are_decided_reopens_the_item(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    key = reviewed["proof"].uuid.hex
    member_client.post(url + "reject/", {"item": key, "reason": "Cut off"}, **HTMX)
    response = member_client.post(url + "undo/", {"item": key}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert response.status_code == 200
    assert "Sending back undone" in response.text and "data-review-approve" in response.text
    item = _item(reviewed["proof"])
    assert (item.review, item.rejection_reason, item.upload_name) == ("pending", "", "new-bill.pdf")
    with scopes_disabled():
        assert ItemRejection.objects.get().undone_at is not None
    assert "dossiers.dossier.send_back_undone" in _actions(org)
    # Approved after all: the client's file is the profile's document.
    member_client.post(url + "approve/", {"item": key}, **HTMX)
    assert _value(reviewed["proof"]).document.name == "new-bill.pdf"


def test_undoing_a_send_back_cancels_its_e_mail_while_it_waits_in_the_outbox(
    member_client, org, reviewed, django_capture_on_commit_callbacks
):
    url = _url(org, reviewed)
    send_due()
    mail.outbox.clear()
    key = reviewed["proof"].uuid.hex
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(url + "reject/", {"item": key, "reason": "Cut off"}, **HTMX)
        member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex}, **HTMX)
    assert _reload(reviewed["dossier"]).status == "changes_requested"
    assert not mail.outbox  # held for the undo
    response = member_client.post(url + "undo/", {"item": key}, HTTP_ACCEPT_LANGUAGE="fr", **HTMX)
    assert "Renvoi au client annulé" in response.text
    assert _reload(reviewed["dossier"]).status == "to_review"
    with scopes_disabled():
        assert set(
            Message.objects.filter(kind="dossiers.changes_requested").values_list(
                "status", flat=True
            )
        ) == {"cancelled"}
    send_due(now=timezone.now() + UNDO_GRACE * 2)
    assert not mail.outbox


def test_a_send_back_cannot_be_undone_once_the_client_was_e_mailed(
    member_client, org, reviewed, django_capture_on_commit_callbacks
):
    url = _url(org, reviewed)
    key = reviewed["proof"].uuid.hex
    member_client.post(url + "reject/", {"item": key, "reason": "Cut off"})
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    send_due(now=timezone.now() + UNDO_GRACE)  # the outbox drained
    assert any("Cut off" in m.body for m in mail.outbox)
    response = member_client.post(url + "undo/", {"item": key}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert response.status_code == 200
    assert "The client has been e-mailed already" in response.text
    assert _reload(reviewed["dossier"]).status == "changes_requested"
    assert _item(reviewed["proof"]).review == "rejected"
    assert "dossiers.dossier.send_back_undone" not in _actions(org)
    # Without JavaScript: the same refusal, on the page.
    page = member_client.post(url + "undo/", {"item": key}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "The client has been e-mailed already" in page.text


def test_undoing_an_approval_puts_the_earlier_value_back_through_the_history(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    job = reviewed["job"]
    factories.approve_all(member_client, url)
    assert _reload(reviewed["dossier"]).status == "approved"
    assert _value(job).value == "Chef"
    response = member_client.post(
        url + "undo/", {"item": job.uuid.hex}, HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    assert "Approval undone" in response.text
    assert _value(job).value == "Baker"
    # A change of its own in the history, by the member, after the approval's.
    last = _history(job)[-1]
    assert (last.old_value, last.new_value, last.source) == ("Chef", "Baker", "staff")
    assert _item(job).review == "pending"
    assert _reload(reviewed["dossier"]).status == "to_review"
    actions = _actions(org)
    assert "dossiers.dossier.approval_undone" in actions
    assert "profiles.value.restored" in actions
    # Decided again: written again.
    member_client.post(url + "approve/", {"item": job.uuid.hex}, **HTMX)
    assert _value(job).value == "Chef"


def test_an_approval_is_not_undone_over_a_newer_change(member_client, member, org, reviewed):
    url = _url(org, reviewed)
    job = reviewed["job"]
    member_client.post(url + "approve/", {"item": job.uuid.hex})
    with scopes_disabled():
        apply_values(reviewed["profile"], [NewValue(job, "Pilot")], source="staff", user=member)
    response = member_client.post(
        url + "undo/", {"item": job.uuid.hex}, HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    assert "The value changed on the profile since it was approved" in response.text
    assert _value(job).value == "Pilot"
    assert _item(job).review == "approved"


def test_undo_is_offered_right_after_a_decision_only(member_client, org, reviewed):
    url = _url(org, reviewed)
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    assert "data-review-undo" in member_client.get(url).text
    with time_machine.travel(timezone.now() + UNDO_OFFERED + dt.timedelta(seconds=1)):
        assert "data-review-undo" not in member_client.get(url).text


def test_approve_all_still_refuses_answers_changed_since_the_page_was_shown(
    member_client, org, reviewed
):
    url = _url(org, reviewed)
    page = member_client.get(url + "approve/")
    shown = [change["token"] for change in page.context["changes"]]
    # The answer moves after the page was shown: its confirmation approves nothing.
    with scopes_disabled():
        DossierItem.objects.filter(field=reviewed["job"]).update(answer="Cook")
    stale = member_client.post(url + "approve/", {"confirm": "yes", "shown": shown})
    assert stale.status_code == 409
    assert _item(reviewed["job"]).review == "pending"


def test_the_review_page_reads_a_fixed_number_of_queries_whatever_the_items(
    member_client, org, client
):
    def page_queries(n: int) -> int:
        fields = [factories.field(org, "text", label=f"Field {i} of {n}") for i in range(n)]
        profile = factories.contact(org, email=f"c{n}@example.com")
        group = factories.group(org, fields, review_required=True)
        dossier = factories.dossier(
            org,
            profile,
            fields,
            kind="update",
            update_group_id=group.pk,
            period=dt.date(2026, 1, 31),
        )
        answered = client.post(
            f"/d/{factories.token(dossier)}/",
            {**{f"f_{f.uuid.hex}": f"answer {f.pk}" for f in fields}, "action": "submit"},
        )
        assert answered.status_code == 302
        url = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
        # One decided item: its "sent back" history is read too.
        member_client.post(url + "reject/", {"item": fields[0].uuid.hex, "reason": "No"})
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(url).status_code == 200
        return len(queries)

    # 10 with the failing addresses of its recipients (the outbox's, one query) and why a
    # group's request was opened (monitoring's triggers, one query); the layout's switcher
    # comes with the membership.
    assert page_queries(2) == page_queries(8) == 10


def test_the_pdf_preview_is_as_tall_as_the_window(member_client, org, reviewed):
    page = member_client.get(_url(org, reviewed)).text
    assert "<iframe" in page
    with open("static/css/app.css") as css:
        assert ".table.review .preview iframe { height: calc(100vh" in css.read()


def test_a_reviewer_can_replace_a_sent_back_answer_later(client, member_client, org, reviewed):
    """The client answers again after a send-back: the new file is the item's, the one sent
    back stays in the item's history."""
    url = _url(org, reviewed)
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "Cut"})
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    response = client.post(
        f"/d/{reviewed['token']}/",
        {f"f_{reviewed['proof'].uuid.hex}": _pdf("whole-bill.pdf"), "action": "submit"},
    )
    assert response.status_code == 302
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    assert "whole-bill.pdf" in page and "new-bill.pdf" in page and "Sent back once" in page


def test_a_file_sent_back_goes_with_its_dossier_at_the_purge_and_the_erasure(
    member_client, owner_client, org, reviewed, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from dossiers import privacy
    from dossiers.retention import purge_dossiers

    url = _url(org, reviewed)
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "Cut"})
    with scopes_disabled():
        key = ItemRejection.objects.get().upload.name
        # The erasure's export and deletion list the file with the dossier's.
        assert key in [stored for _path, stored in privacy.files(reviewed["profile"])]
    assert default_storage.exists(key)
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    later = timezone.now() + dt.timedelta(days=60)
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        # Sent back and never answered: it expires, then goes a month on.
        assert purge_dossiers(now=later) == 0
        from dossiers.retention import expire_dossiers

        expire_dossiers(now=later)
        assert purge_dossiers(now=later + dt.timedelta(days=40)) == 1
    assert not default_storage.exists(key)


def test_a_send_back_is_not_undone_once_a_worker_holds_its_e_mail(member_client, org, reviewed):
    url = _url(org, reviewed)
    key = reviewed["proof"].uuid.hex
    member_client.post(url + "reject/", {"item": key, "reason": "Cut off"})
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    with scopes_disabled():
        # Claimed by the drain (its lease running), not sent yet: it may be leaving now.
        claimed = Message.objects.filter(kind="dossiers.changes_requested").update(attempts=1)
    assert claimed == 1
    response = member_client.post(url + "undo/", {"item": key}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "The client has been e-mailed already" in response.text
    assert _reload(reviewed["dossier"]).status == "changes_requested"
    with scopes_disabled():
        assert Message.objects.get(kind="dossiers.changes_requested").status == "queued"
