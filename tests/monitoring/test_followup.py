"""A run's follow-up (counts, who has not answered, CSV) and sending a group on demand."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from dossiers.retention import purge_dossiers
from monitoring import followup
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import UpdateGroup, UpdateRun
from monitoring.services import set_active
from tests import factories


def _years_ahead(years: int) -> dt.date:
    """A start date in the future whatever today is (1 January, a few years on)."""
    return dt.date(timezone.localdate().year + years, 1, 1)


pytestmark = pytest.mark.django_db

# The status each profile's dossier ends in, cycled over the run.
MIX = [
    "open",
    "opened",
    "in_progress",
    "submitted",
    "to_review",
    "changes_requested",
    "approved",
    "expired",
]


def _run_of(org, n: int):
    field = factories.field(org, "text", label="Address")
    with scopes_disabled():
        from profiles.models import Profile

        Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"Client {i:04d}", first_name="A")
            for i in range(n)
        )
    group = factories.group(org, [field], start_date=timezone.localdate())
    run_id = dispatch_group_now(group.pk, fan_out=False)
    open_run(run_id)
    with scopes_disabled():
        run = UpdateRun.objects.get(pk=run_id)
        ids = list(
            Dossier.objects.filter(update_group=group).order_by("id").values_list("id", flat=True)
        )
        for offset, status in enumerate(MIX):
            Dossier.objects.filter(pk__in=ids[offset :: len(MIX)]).update(status=status)
        Dossier.objects.filter(pk__in=ids[1 :: len(MIX)]).update(first_opened_at=timezone.now())
    return group, run


def _expected(n: int) -> dict[str, int]:
    return {status: len(range(offset, n, len(MIX))) for offset, status in enumerate(MIX)}


def _csv(client, org, group, run, query: str = "") -> list[list[str]]:
    response = client.get(
        f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}"
        f"/outstanding.csv{query}"
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    # A French organisation's file: what French Excel splits on, after the byte-order mark.
    assert text.startswith("\ufeff")
    delimiter = ";" if org.default_language == "fr" else ","
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter))


def test_a_run_of_a_thousand_counts_and_lists_the_outstanding_before_and_after_the_purge(
    member_client, org, django_capture_on_commit_callbacks
):
    group, run = _run_of(org, 1000)
    expected = _expected(1000)
    owed = sum(expected[s] for s in followup.OUTSTANDING)

    def check() -> None:
        with scope(organization=org):
            counts = followup.outcomes(group, [run.period])[run.period]
            assert dict(counts.by_status) == expected
            assert counts.sent == 1000
            assert counts.opened == expected["opened"]
            answered = sum(expected.get(s, 0) for s in followup.ANSWERED)
            assert counts.completion == (answered * 1000 + 5000) // 10000
            assert followup.outstanding(group, run.period).count() == owed
        page = member_client.get(
            f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
        )
        assert page.status_code == 200
        assert page.context["page"].paginator.count == owed
        rows = _csv(member_client, org, group, run)
        assert len(rows) == owed + 1
        labels = dict(Dossier.Status.choices, open="Sent, not opened")
        assert {r[4] for r in rows[1:]} == {
            str(labels[value]) for value in followup.OUTSTANDING if expected.get(value)
        }

    check()
    with scopes_disabled():
        Dossier.objects.filter(update_group=group).update(
            created_at=timezone.now() - dt.timedelta(days=40)
        )
        Dossier.objects.filter(status__in=Dossier.AWAITING_DECISION).update(status="expired")
    expected["expired"] += expected.pop("to_review") + expected.pop("changes_requested")
    owed = sum(expected.get(s, 0) for s in followup.OUTSTANDING)
    # The purge renews the counts the page keeps once it commits.
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        assert purge_dossiers() == 1000
    with scopes_disabled():
        assert not Dossier.objects.exists()
    check()


def test_the_outstanding_list_filters_and_searches(member_client, org):
    group, run = _run_of(org, 16)
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    assert member_client.get(url + "?status=expired").context["page"].paginator.count == 2
    assert member_client.get(url, {"q": "client 0002"}).context["page"].paginator.count == 1
    assert member_client.get(url + "?status=approved").context["page"].paginator.count == 10
    rows = _csv(member_client, org, group, run, "?status=expired")
    assert len(rows) == 3


def _pages(client, url: str, query: str = "") -> list[list[tuple]]:
    first = client.get(url + query)
    pages = [list(first.context["page"])]
    for number in range(2, first.context["page"].paginator.num_pages + 1):
        pages.append(list(client.get(f"{url}{query or '?'}&page={number}").context["page"]))
    return pages


def test_every_page_of_the_outstanding_list_is_its_slice_of_the_whole_list(member_client, org):
    """Pages past the middle are read backwards; each is still its slice, in name order."""
    group, run = _run_of(org, 400)
    with scopes_disabled():
        from profiles.models import Profile

        # Names that tie, so that the order falls to the dossier.
        Profile.objects.filter(last_name__endswith="7").update(last_name="Same")
        # A purged part of the run beside the live one, one of its profiles since erased.
        old = Dossier.objects.filter(update_group=group).order_by("id")[:160]
        Dossier.objects.filter(pk__in=list(old.values_list("pk", flat=True))).update(
            created_at=timezone.now() - dt.timedelta(days=40), status="expired"
        )
        assert purge_dossiers() == 160
        from dossiers.models import DossierRecord

        DossierRecord.objects.order_by("id").first().profile.delete()
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    for query in ("", "?status=expired", "?q=client"):
        with scope(organization=org):
            status = query.removeprefix("?status=") if "status" in query else ""
            every = list(
                followup.outstanding(
                    group, run.period, status=status, query="client" if "q=" in query else ""
                )
            )
        pages = _pages(member_client, url, query)
        assert len(pages) > 2
        labels = dict(Dossier.Status.choices, open="Sent, not opened")
        every = [(*row[:4], labels[row[4]], *row[5:]) for row in every]
        assert [row for page in pages for row in page] == every
        assert member_client.get(url + query).context["page"].paginator.count == len(every)


def test_the_follow_up_page_reads_a_fixed_number_of_queries_whatever_the_page(member_client, org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    group, run = _run_of(org, 200)
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    with CaptureQueriesContext(connection) as first:
        assert member_client.get(url).status_code == 200
    counts = []
    for page in ("", "?page=2", "?page=3", "?status=opened&page=2"):
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(url + page).status_code == 200
        counts.append(len(queries))
    # Session, user, the memberships (with the organisation switcher's and the version of
    # the organisation's dossiers), the run with its group, the version of the dossiers
    # under which the outcomes are kept, undeliverable (live and purged in one), the page's
    # rows, the run's and the page's dossiers e-mail cannot reach (one), the layout's review
    # count on the first view that finds the version, cached under it on the next ones: the
    # list's length is known from the outcomes, not counted again, and a run not reminded
    # this hour asks the outbox nothing.
    assert counts == [9, 8, 8, 8]
    # The first view counted the outcomes (2), after giving the organisation its version
    # (an insert in a savepoint).
    assert len(first) == 9 + 2 + 3


def test_a_cell_a_spreadsheet_would_run_is_neutralised(member_client, org):
    group, run = _run_of(org, 1)
    with scopes_disabled():
        from profiles.models import Profile

        Profile.objects.update(last_name="=HYPERLINK(1)")
    assert _csv(member_client, org, group, run)[1][0] == "'=HYPERLINK(1)"


def test_the_follow_up_pages_are_404_elsewhere(outsider_client, member_client, org):
    group, run = _run_of(org, 1)
    base = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/"
    assert outsider_client.get(base + f"{run.period.isoformat()}/").status_code == 404
    assert member_client.get(base + "not-a-date/").status_code == 404
    assert member_client.get(base + "1999-01-01/").status_code == 404


def test_the_follow_up_counts_in_a_fixed_number_of_queries(
    org, django_assert_num_queries, member_client
):
    group, run = _run_of(org, 40)
    with scope(organization=org), django_assert_num_queries(2):
        followup.outcomes(group, [run.period])


def test_the_follow_up_counts_a_client_opening_their_link_at_once(
    client, member_client, org, django_capture_on_commit_callbacks
):
    group, run = _run_of(org, 16)
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    before = member_client.get(url).context["outcomes"]
    assert member_client.get(url).context["outcomes"].by_status == before.by_status
    with scopes_disabled():
        dossier = Dossier.objects.filter(update_group=group, status="open").first()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/d/{factories.token(dossier)}/").status_code == 200
    after = member_client.get(url).context["outcomes"]
    assert after.by_status["open"] == before.by_status["open"] - 1
    assert after.by_status["opened"] == before.by_status["opened"] + 1
    assert after.opened == before.opened + 1


def test_send_now_asks_with_the_count_then_opens_each_dossier_once(
    owner_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text")
    for i in range(3):
        factories.contact(org, last_name=f"C{i}")
    group = factories.group(org, [field], start_date=_years_ahead(3))
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/send/"
    page = owner_client.get(url)
    assert "3 recipients" in page.text
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(url)
        assert response.status_code == 302
    with scopes_disabled():
        assert Dossier.objects.count() == 3
        assert UpdateRun.objects.count() == 1
        group = UpdateGroup.objects.get()
        # The scheduled run of that period does not send it again.
        assert group.next_index == 1
    # The scheduled pass finds nothing due for that period.
    from monitoring.dispatch import dispatch_due

    assert dispatch_due(timezone.now()) == []


def test_send_now_is_for_admins(member_client, org):
    group = factories.group(org, [factories.field(org, "text")])
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/send/"
    assert member_client.post(url).status_code == 403


def test_the_command_sends_one_group_now(org, capsys):
    field = factories.field(org, "text")
    factories.contact(org)
    group = factories.group(org, [field], start_date=_years_ahead(3))
    call_command("dispatch_due", "--group", str(group.uuid))
    assert "1 dossier(s) open" in capsys.readouterr().out
    with scopes_disabled():
        assert Dossier.objects.count() == 1


def test_a_group_resumed_the_day_it_ran_is_next_due_after_that_run(org):
    field = factories.field(org, "text")
    factories.contact(org)
    group = factories.group(org, [field], start_date=timezone.localdate() - dt.timedelta(days=1))
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    run_id = dispatch_group_now(group.pk, fan_out=False)
    with scopes_disabled():
        ran = UpdateRun.objects.get(pk=run_id).period
        group = UpdateGroup.objects.select_related("organization").get()
        set_active(group, False)
        set_active(group, True)
        group.refresh_from_db()
    assert group.next_date > ran


def test_remind_all_sends_one_reminder_to_each_outstanding_recipient_once_an_hour(
    member_client, org, django_capture_on_commit_callbacks
):
    from django.core import mail

    from outbox.mail import send_due
    from outbox.models import Message

    group, run = _run_of(org, 16)
    with scopes_disabled():
        Message.objects.update(status="sent")  # the invitations went out
        from profiles.models import Profile

        Profile.objects.update(email="someone@example.com")
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/remind/"
    # Sent, opened, draft and changes requested can still answer: 4 of the mix of 8.
    assert "8 clients have not answered" in member_client.get(url).text
    mail.outbox.clear()
    said = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = member_client.post(url, follow=True)
        said.append(response.text)
    assert "A reminder is on its way to each of the 8 clients" in said[0]
    # The second click within the hour says so instead of claiming to send again, and the
    # page asking first says exactly that before anything is clicked.
    assert "8 clients were already reminded within this hour" in said[1]
    assert "A reminder is on its way" not in said[1]
    again = member_client.get(url).text
    assert "8 clients were already reminded within this hour" in again
    assert "Send 0" not in again and "clients have not answered" not in again
    send_due()
    with scopes_disabled():
        reminded = list(
            Message.objects.filter(kind="dossiers.reminder").values_list(
                "dossier_link__dossier__status", flat=True
            )
        )
    assert len(reminded) == 8
    assert set(reminded) <= set(Dossier.OPEN_STATUSES)
    assert len(mail.outbox) == 8


def test_the_reminder_ladder_is_a_group_setting_with_a_clear_message(owner_client, org):
    group = factories.group(org, [factories.field(org, "text")])
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/")
    assert 'value="3, 10"' in page.text and 'value="2"' in page.text
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data["fields"] = [str(pk) for pk in data.get("fields", [])]
    data["start_date"] = group.start_date.isoformat()
    data["remind_after"] = "3, ten"
    response = owner_client.post(
        f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/", data
    )
    assert response.status_code == 200
    assert "Enter whole numbers of days" in " ".join(
        response.context["form"].errors["remind_after"]
    )
    data["remind_after"] = "5; 1"
    data["remind_before"] = ""
    response = owner_client.post(
        f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/", data
    )
    assert response.status_code == 302
    with scopes_disabled():
        group.refresh_from_db()
    assert group.remind_after == [1, 5] and group.remind_before == []


def test_undeliverable_e_mails_are_still_counted_after_the_purge(org):
    from dossiers.models import DossierMessage
    from outbox.models import Message

    group, run = _run_of(org, 3)
    with scopes_disabled():
        first = Dossier.objects.order_by("id").first()
        refused = Message.objects.create(
            organization=org,
            key="refused",
            kind="dossiers.invitation",
            address="nobody@example.com",
            status=Message.Status.UNDELIVERABLE,
        )
        DossierMessage.objects.create(message=refused, dossier=first, profile=first.profile)
    with scope(organization=org):
        assert followup.undeliverable(group, [run.period]) == {run.period: 1}
    with scopes_disabled():
        Dossier.objects.update(status="expired", created_at=timezone.now() - dt.timedelta(days=40))
        assert purge_dossiers() == 3
    with scope(organization=org):
        assert followup.undeliverable(group, [run.period]) == {run.period: 1}


# 23:30 UTC is already tomorrow in Paris: the organisation's day and the UTC day differ.
LATE = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)


def _quarterly_from(org, start: dt.date):
    """A quarterly group of two contacts, scheduled at LATE and run by the dispatcher then
    (its due moment brought forward, as one does to try a group out)."""
    from monitoring.dispatch import dispatch_due

    field = factories.field(org, "text")
    factories.contact(org, last_name="Martin")
    factories.contact(org, last_name="Bernard")
    group = factories.group(org, [field], start_date=start, interval_count=3)
    with scopes_disabled():
        group = UpdateGroup.objects.select_related("organization").get(pk=group.pk)
        group.schedule_from(now=LATE)
        group.next_run_at = LATE
        group.save()
    [run_id] = dispatch_due(LATE, fan_out=False)
    open_run(run_id)
    return group, run_id


@pytest.mark.parametrize(
    "start",
    [dt.date(2026, 11, 29), dt.date(2026, 11, 30)],
    ids=["yesterday-in-paris", "today-in-paris"],
)
def test_send_now_near_midnight_sends_the_period_the_dispatcher_ran(org, start):
    group, scheduled = _quarterly_from(org, start)
    factories.contact(org, last_name="Durand")  # joins after the run
    sent = dispatch_group_now(group.pk, now=LATE, fan_out=False)
    assert sent == scheduled
    open_run(sent)
    assert dispatch_group_now(group.pk, now=LATE, fan_out=False) == scheduled  # a second click
    with scopes_disabled():
        dossiers = list(
            Dossier.objects.filter(update_group=group).values_list("profile__last_name", "status")
        )
        assert UpdateRun.objects.count() == 1
    assert sorted(dossiers) == [("Bernard", "open"), ("Durand", "open"), ("Martin", "open")]


def test_the_current_period_is_never_one_before_a_period_already_run():
    from monitoring.dispatch import current_index

    start, today = dt.date(2026, 11, 29), dt.date(2026, 11, 30)
    assert current_index(start, 3, "months", today) == 0
    assert current_index(start, 3, "months", today, next_index=1) == 0
    # The period of 28 February ran ahead of its date: it is the current one.
    assert current_index(start, 3, "months", today, next_index=2) == 1


def test_remind_all_after_new_clients_joined_promises_only_those_not_yet_reminded(
    member_client, org, django_capture_on_commit_callbacks
):
    from outbox.models import Message

    group, run = _run_of(org, 16)
    with scopes_disabled():
        Message.objects.update(status="sent")
        from profiles.models import Profile

        Profile.objects.update(email="someone@example.com")
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/remind/"
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(url)
    with scopes_disabled():
        # Two reminded clients take their reminder back: only they are due again this hour.
        Message.objects.filter(
            kind="dossiers.reminder", dossier_link__dossier__status="opened"
        ).delete()
    page = member_client.get(url).text
    assert "Send 2 reminders" in page
    assert "6 clients were already reminded within this hour" in page
    with django_capture_on_commit_callbacks(execute=True):
        said = member_client.post(url, follow=True).text
    assert "A reminder is on its way to each of the 2 clients" in said
    assert "6 clients were already reminded within this hour" in said


@pytest.mark.parametrize(
    ("answered", "sent", "shown"),
    [(1, 6, 17), (0, 6, 0), (5, 6, 83), (199, 200, 99), (1, 1000, 1), (6, 6, 100)],
)
def test_completion_rounds_half_up_but_says_100_only_when_all_answered(answered, sent, shown):
    counts = followup.Outcomes()
    counts.by_status["approved"] = answered
    counts.by_status["open"] = sent - answered
    assert counts.completion == shown


def test_the_follow_up_names_requests_sent_apart_from_the_sent_status(member_client, org):
    group, run = _run_of(org, 6)
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    assert "Requests sent" in page and "Sent, not opened" in page
    # Of the first six of the mix, "submitted" and "to review" answered: 2 of 6.
    assert "Completion: 2 of 6 answered" in page and "33 %" in page
    assert ">Sent<" not in page


def test_the_follow_up_csv_has_the_e_mail_and_follows_the_organisation_language(member_client, org):
    group, run = _run_of(org, 1)
    with scopes_disabled():
        from profiles.models import Profile

        Profile.objects.update(email="ada@example.com", first_name="Ada; Jr")
    rows = _csv(member_client, org, group, run)
    assert rows[0][3] == "E-mail"
    assert rows[1][1] == "Ada; Jr" and rows[1][3] == "ada@example.com"
    org.default_language = "en"
    org.save()
    rows = _csv(member_client, org, group, run)
    assert rows[1][3] == "ada@example.com"


def test_a_run_being_opened_shows_a_progress_bar_that_polls_until_the_run_is_done(
    member_client, outsider_client, other_org, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text", label="Address")
    for i in range(5):
        factories.contact(org, last_name=f"Client {i}")
    group = factories.group(org, [field], start_date=timezone.localdate())
    run_id = dispatch_group_now(group.pk, fan_out=False)
    with scopes_disabled():
        run = UpdateRun.objects.get(pk=run_id)
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    assert '<progress max="5" value="0"' in page
    assert "0 of 5 dossiers opened (0 %)" in page
    assert f'hx-get="{url}progress/"' in page and 'hx-trigger="every 2s"' in page
    # The same in French, and the polled part alone.
    polled = member_client.get(url + "progress/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="fr")
    assert polled.status_code == 200 and "HX-Refresh" not in polled
    assert "0 sur 5 dossiers ouverts" in polled.text and "<html" not in polled.text
    # Its commits renew the counts the page keeps.
    with django_capture_on_commit_callbacks(execute=True):
        open_run(run_id)
    # Done: the poll asks the page to reload, which is the result page.
    done = member_client.get(url + "progress/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    assert "<progress" not in page and "every 2s" not in page
    assert "Completion: 0 of 5 answered" in page
    elsewhere = f"/o/{other_org.slug}/monitoring/groups/{group.uuid}/runs/{run.period}/progress/"
    assert outsider_client.get(elsewhere).status_code == 404


def test_reminders_show_their_progress_in_the_outbox_and_the_page_survives_a_reload(
    member_client, org
):
    from outbox.mail import send_due
    from outbox.models import Message

    group, run = _run_of(org, 16)
    with scopes_disabled():
        Message.objects.update(status="sent")
        from profiles.models import Profile

        Profile.objects.update(email="someone@example.com")
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    # The broker is slow: the reminders wait in the outbox.
    member_client.post(url + "remind/")
    for _ in range(2):  # a reload shows the same
        page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
        assert "0 of 8 reminders sent." in page and 'hx-trigger="every 2s"' in page
    polled = member_client.get(url + "progress/", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in polled
    send_due()
    polled = member_client.get(url + "progress/", HTTP_HX_REQUEST="true")
    assert polled["HX-Refresh"] == "true"
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").text
    assert "8 of 8 reminders sent." in page and "every 2s" not in page


def _reminded_run(org):
    """A run of 16 whose invitations went out: 8 of its clients can still answer."""
    group, run = _run_of(org, 16)
    with scopes_disabled():
        from outbox.models import Message
        from profiles.models import Profile

        Message.objects.update(status="sent")
        Profile.objects.filter(organization=org).update(email="someone@example.com")
    return group, run


def test_a_run_reminded_in_no_other_hour_shows_no_reminders_without_asking_the_outbox(
    org, owner, django_assert_num_queries
):
    from monitoring import actions
    from organizations.actors import Actor

    with time_machine.travel(dt.datetime(2027, 3, 1, 10, 30, tzinfo=dt.UTC), tick=False) as clock:
        _group, run = _reminded_run(org)
        with scope(organization=org):
            with django_assert_num_queries(0):
                assert followup.reminder_progress(run) is None
            actions.remind_run(run, actor=Actor.member(owner))
            run = UpdateRun.objects.get(pk=run.pk)
            assert run.reminded_at == timezone.now()
            progress = followup.reminder_progress(run)
            assert progress is not None and (progress.done, progress.total) == (0, 8)
            clock.move_to(dt.datetime(2027, 3, 1, 10, 59, 59, tzinfo=dt.UTC))
            assert followup.reminder_progress(run) == progress
            # The reminders' keys name the hour they were sent in: the next hour has none.
            clock.move_to(dt.datetime(2027, 3, 1, 11, tzinfo=dt.UTC))
            with django_assert_num_queries(0):
                assert followup.reminder_progress(run) is None


def test_the_run_is_marked_reminded_in_the_reminders_transaction(org, owner):
    from django.db import transaction

    from monitoring import actions
    from organizations.actors import Actor
    from outbox.models import Message

    _group, run = _reminded_run(org)
    with scope(organization=org):
        with pytest.raises(RuntimeError), transaction.atomic():
            actions.remind_run(run, actor=Actor.member(owner))
            assert UpdateRun.objects.get(pk=run.pk).reminded_at is not None
            raise RuntimeError
        assert UpdateRun.objects.get(pk=run.pk).reminded_at is None
        assert not Message.objects.filter(kind="dossiers.reminder").exists()


def test_a_click_of_the_hour_before_committing_late_never_moves_the_mark_back(org, owner):
    from monitoring import actions
    from organizations.actors import Actor

    later = dt.datetime(2027, 3, 1, 11, 0, 5, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2027, 3, 1, 10, 59, 59, tzinfo=dt.UTC), tick=False):
        _group, run = _reminded_run(org)
        with scope(organization=org):
            UpdateRun.objects.filter(pk=run.pk).update(reminded_at=later)
            actions.remind_run(run, actor=Actor.member(owner))
            assert UpdateRun.objects.get(pk=run.pk).reminded_at == later


def test_reminding_another_organisations_run_marks_only_that_run(
    org, other_org, outsider, member_client
):
    from monitoring import actions
    from organizations.actors import Actor

    group, run = _reminded_run(org)
    _other_group, other_run = _reminded_run(other_org)
    with scope(organization=other_org):
        actions.remind_run(other_run, actor=Actor.member(outsider))
    with scopes_disabled():
        assert UpdateRun.objects.get(pk=other_run.pk).reminded_at is not None
        assert UpdateRun.objects.get(pk=run.pk).reminded_at is None
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    page = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.context["reminders"] is None and "reminders sent" not in page.text


def _run_with_failing_addresses(org, n: int):
    """A run of `n` clients whose invitations went out, every third one refused for good to
    an address that still fails, and every fourth client having answered."""
    from outbox.models import FailingAddress, Message

    field = factories.field(org, "text", label="Address")
    for i in range(n):
        factories.contact(org, last_name=f"Client {i:03d}", email=f"c{i}@{org.slug}.example")
    group = factories.group(org, [field], start_date=timezone.localdate())
    run_id = dispatch_group_now(group.pk, fan_out=False)
    open_run(run_id)
    failing = [f"c{i}@{org.slug}.example" for i in range(0, n, 3)]
    with scopes_disabled():
        Message.objects.filter(organization=org).update(status="sent")
        Message.objects.filter(organization=org, address__in=failing).update(status="undeliverable")
        FailingAddress.objects.bulk_create(
            FailingAddress(organization=org, address=address, reason="bounced")
            for address in failing
        )
        ids = list(
            Dossier.objects.filter(update_group=group).order_by("id").values_list("id", flat=True)
        )
        Dossier.objects.filter(pk__in=ids[::4]).update(status="submitted")
        return group, UpdateRun.objects.get(pk=run_id)


def test_the_unreachable_count_and_the_page_marks_match_each_dossier_probed_alone(
    member_client, org, other_org
):
    from dossiers.selectors import not_reached

    _run_with_failing_addresses(other_org, 30)
    group, run = _run_with_failing_addresses(org, 80)
    with scopes_disabled():
        probed = Dossier.objects.filter(update_group=group).filter(not_reached())
        expected = set(
            probed.filter(status__in=followup.OUTSTANDING).values_list("uuid", flat=True)
        )
    assert 0 < len(expected) < 60
    url = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    marked = set()
    for number in (1, 2):
        page = member_client.get(url, {"page": number})
        assert page.context["unreachable"] == len(expected)
        assert page.context["page"].number == number
        refs = {row[6] for row in page.context["page"]}
        assert page.context["unreached"] == expected & refs
        marked |= page.context["unreached"]
    assert marked == expected
    with scope(organization=org):
        assert followup.unreachable_with(group, run.period, []) == (len(expected), set())
        assert followup.unreachable(group, run.period) == len(expected)
