"""The organisation's actions: each validates, writes, records its entry with the right actor
and stays in its tenant; and each of its doors (pages, sign-in, outbox, command) calls it."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from organizations import actions
from organizations.actors import Actor
from organizations.members import InvitationUnusable
from organizations.models import AuditEntry, Invitation, Membership, Organization
from organizations.signals import time_zone_changed
from outbox.mail import send_due
from outbox.models import Message

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)
PASSWORD = "a-long-pass-phrase-42"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture(autouse=True)
def _language_restored() -> Iterator[None]:
    # A page read in French leaves French active in the thread for the tests after it.
    with translation.override(translation.get_language()):
        yield


@contextmanager
def _calls(verb: str) -> Iterator[mock.MagicMock]:
    """The action, spied on where every door looks it up."""
    with mock.patch(f"organizations.actions.{verb}", wraps=getattr(actions, verb)) as spy:
        yield spy


def _entries(**lookup: Any) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(**lookup).select_related("organization"))


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def _link(message: Any) -> str:
    return re.search(r"http://testserver(\S+)", message.body).group(1)


def _settings_post(**changes: Any) -> dict[str, Any]:
    # What the settings page sends, its box unchecked (absent).
    data = {"name": "Acme", "time_zone": "Europe/Paris", "default_language": "fr"}
    return {**data, "date_style": "dmy", **changes}


# update_settings


def test_update_settings_saves_what_changed_and_records_it(org, owner) -> None:
    with scope(organization=org):
        result = actions.update_settings(
            org, actor=Actor.member(owner), name="Acme Ltd", time_zone="Europe/Paris"
        )
    assert result.changed == ("name",)
    assert Organization.objects.get(pk=org.pk).name == org.name == "Acme Ltd"
    [entry] = _entries(action="organizations.settings.updated")
    assert (entry.actor, entry.user, entry.details) == ("member", owner, {"changed": "name"})


def test_update_settings_moves_the_schedules_only_when_the_zone_changes(org, owner) -> None:
    receiver = mock.Mock()
    time_zone_changed.connect(receiver)
    try:
        with scope(organization=org):
            actions.update_settings(org, actor=Actor.member(owner), time_zone="Europe/Paris")
            assert not receiver.called
            actions.update_settings(org, actor=Actor.member(owner), time_zone="Asia/Tokyo")
    finally:
        time_zone_changed.disconnect(receiver)
    receiver.assert_called_once()
    assert receiver.call_args.kwargs["organization"].time_zone == "Asia/Tokyo"


def test_update_settings_refuses_with_the_fields_named_and_writes_nothing(org, owner) -> None:
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        # A member without a second factor cannot require one: they would lock themselves out.
        actions.update_settings(
            org, actor=Actor.member(owner), name="Acme\r\nBcc: x", require_two_factor=True
        )
    assert set(refused.value.message_dict) == {"name", "require_two_factor"}
    stored = Organization.objects.get(pk=org.pk)
    assert (stored.name, stored.require_two_factor) == ("Acme", False)
    assert not _entries()


def test_the_system_may_require_a_second_factor(org) -> None:
    with scope(organization=org):
        actions.update_settings(org, actor=Actor.system("seed_demo"), require_two_factor=True)
    assert Organization.objects.get(pk=org.pk).require_two_factor
    [entry] = _entries(action="organizations.settings.updated")
    assert (entry.actor, entry.details["job"]) == ("system", "seed_demo")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=220))
def test_any_name_is_saved_as_given_or_refused_on_the_name(org, owner, name) -> None:
    with scope(organization=org):
        try:
            actions.update_settings(org, actor=Actor.member(owner), name=name)
        except ValidationError as refused:
            assert set(refused.message_dict) == {"name"}
            assert Organization.objects.get(pk=org.pk).name != name
        else:
            assert Organization.objects.get(pk=org.pk).name == name


def test_the_settings_page_calls_update_settings(owner_client, org) -> None:
    with _calls("update_settings") as spy:
        response = owner_client.post(f"/o/{org.slug}/settings/", _settings_post(name="Acme Ltd"))
    assert response.status_code == 302
    spy.assert_called_once()
    assert Organization.objects.get(pk=org.pk).name == "Acme Ltd"


def test_the_settings_page_shows_a_refusal_on_its_field_keeping_what_was_typed(
    owner_client, org
) -> None:
    response = owner_client.post(
        f"/o/{org.slug}/settings/", _settings_post(name="Acme\tLtd", require_two_factor="on")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "require_two_factor"}
    assert form["name"].value() == "Acme\tLtd"
    # The page's header still names the organisation as it is.
    assert response.context["request"].organization.name == "Acme"


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "The name cannot contain line breaks or control characters."),
        ("fr", "Le nom ne peut contenir ni saut de ligne ni caractère de contrôle."),
    ],
)
def test_an_action_s_refusal_reads_in_the_reader_s_language(
    owner_client, org, language, said
) -> None:
    owner_client.cookies.load({"django_language": language})
    response = owner_client.post(f"/o/{org.slug}/settings/", _settings_post(name="A\tB"))
    assert response.context["form"].errors["name"] == [said]


# invite_member, cancel_invitation, accept_invitation


def test_invite_member_queues_the_e_mail_and_records_it(org, owner) -> None:
    # The role is recorded in the language of whoever invited.
    with scope(organization=org), translation.override("en"):
        actions.invite_member(
            org, actor=Actor.member(owner), email="New@Example.com ", role="staff"
        )
        again = actions.invite_member(
            org, actor=Actor.member(owner), email="new@example.com", role="admin"
        )
        # Only the latest invitation to an address stands.
        assert list(Invitation.objects.all()) == [again]
        assert Message.objects.filter(invitation_link__invitation=again).count() == 1
        # The replaced invitation's e-mail went with it: one message, the latest link's.
        assert Message.objects.count() == 1
    assert (again.email, again.invited_by) == ("new@example.com", owner)
    entries = _entries(action="organizations.member.invited")
    assert [(e.actor, e.user, e.target, e.details["role"]) for e in entries] == [
        ("member", owner, "new@example.com", "Administrator"),
        ("member", owner, "new@example.com", "Staff"),
    ]


def test_invite_member_refuses_a_member_or_a_role_with_the_field_named(org, owner, member):
    with scope(organization=org):
        with pytest.raises(ValidationError) as known:
            actions.invite_member(org, actor=Actor.member(owner), email=member.email, role="staff")
        with pytest.raises(ValidationError) as role:
            actions.invite_member(org, actor=Actor.member(owner), email="x@example.com", role="")
        assert not Invitation.objects.exists()
    assert set(known.value.message_dict) == {"email"}
    assert set(role.value.message_dict) == {"role"}
    assert not _entries()


def test_a_member_of_another_organisation_may_be_invited(org, owner, outsider) -> None:
    with scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email=outsider.email, role="staff"
        )
    assert invitation.organization == org


def test_cancel_invitation_deletes_it_once(org, owner) -> None:
    with scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email="x@example.com", role="staff"
        )
        actions.cancel_invitation(invitation, actor=Actor.member(owner))
        assert not Invitation.objects.exists()
        with pytest.raises(InvitationUnusable):
            actions.cancel_invitation(invitation, actor=Actor.member(owner))
    [entry] = _entries(action="organizations.member.invitation_cancelled")
    assert (entry.actor, entry.target) == ("member", "x@example.com")


def test_accept_invitation_enters_the_invitation_s_organisation(org, owner, outsider) -> None:
    with scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email=outsider.email, role="admin"
        )
    # Called outside any scope, as the invitation's link is: it opens its own.
    membership = actions.accept_invitation(invitation, actor=Actor.member(outsider))
    assert (membership.organization, membership.user, membership.role) == (org, outsider, "admin")
    [entry] = _entries(action="organizations.member.added")
    assert (entry.organization, entry.actor, entry.user) == (org, "member", outsider)
    with pytest.raises(InvitationUnusable):
        actions.accept_invitation(invitation, actor=Actor.member(outsider))
    assert len(_entries(action="organizations.member.added")) == 1


def test_accept_invitation_refuses_another_account_and_an_expired_link(
    org, owner, member, outsider
) -> None:
    with time_machine.travel(NOW, tick=False), scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email="someone@example.com", role="staff"
        )
    with time_machine.travel(NOW, tick=False), pytest.raises(InvitationUnusable):
        actions.accept_invitation(invitation, actor=Actor.member(outsider))
    someone = get_user_model().objects.create_user("someone@example.com", "someone@example.com")
    with (
        time_machine.travel(NOW + dt.timedelta(days=8), tick=False),
        pytest.raises(InvitationUnusable),
    ):
        actions.accept_invitation(invitation, actor=Actor.member(someone))
    with scopes_disabled():
        assert not Membership.objects.filter(user__in=[outsider, someone], organization=org)
    assert not _entries(action="organizations.member.added")


def test_the_members_page_calls_invite_member(owner_client, org) -> None:
    with _calls("invite_member") as spy:
        response = owner_client.post(
            f"/o/{org.slug}/settings/members/", {"email": "new@example.com", "role": "staff"}
        )
    assert response.status_code == 302
    spy.assert_called_once()


def test_the_members_page_shows_a_refusal_on_the_e_mail(owner_client, org, member) -> None:
    typed = member.email.upper()
    response = owner_client.post(
        f"/o/{org.slug}/settings/members/", {"email": typed, "role": "staff"}
    )
    assert response.status_code == 200
    form = response.context["member_form"]
    assert list(form.errors) == ["email"] and form["email"].value() == typed


def test_the_cancel_button_calls_cancel_invitation(owner_client, org, owner) -> None:
    with scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email="x@example.com", role="staff"
        )
    with _calls("cancel_invitation") as spy:
        url = f"/o/{org.slug}/settings/invitations/{invitation.uuid}/cancel/"
        assert owner_client.post(url).status_code == 302
    spy.assert_called_once()


def test_both_ways_of_accepting_a_link_call_accept_invitation(
    org, owner, outsider, settings
) -> None:
    """The invitation's page: joined while logged in, and with a new account."""
    settings.SITE_URL = "http://testserver"
    with scope(organization=org):
        for email in (outsider.email, "new@example.com"):
            actions.invite_member(org, actor=Actor.member(owner), email=email, role="staff")
    send_due()
    links = {message.to[0]: _link(message) for message in mail.outbox}
    logged_in = Client()
    logged_in.force_login(outsider)
    new_account = {
        "first_name": "New",
        "last_name": "Person",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    with _calls("accept_invitation") as spy:
        assert logged_in.post(links[outsider.email]).status_code == 302
        assert Client().post(links["new@example.com"], new_account).status_code == 302
    assert spy.call_count == 2
    with scopes_disabled():
        assert Membership.objects.filter(organization=org).count() == 3


# change_role, remove_member


def test_change_role_keeps_an_administrator_whatever_other_organisations_have(
    org, owner, outsider
) -> None:
    with scopes_disabled():
        theirs = Membership.objects.get(user=owner)
    # The outsider administers another organisation: that one does not count here.
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        actions.change_role(theirs, actor=Actor.member(owner), role="staff")
    assert refused.value.message_dict == {
        "role": ["The organisation needs at least one administrator."]
    }
    with scopes_disabled():
        assert Membership.objects.get(user=owner).role == "admin"
    assert not _entries()


def test_change_role_records_the_new_role(org, owner, member) -> None:
    with scopes_disabled():
        theirs = Membership.objects.select_related("user").get(user=member)
    with scope(organization=org):
        with pytest.raises(ValidationError) as refused:
            actions.change_role(theirs, actor=Actor.member(owner), role="owner")
        assert set(refused.value.message_dict) == {"role"}
        actions.change_role(theirs, actor=Actor.member(owner), role="admin")
    with scopes_disabled():
        assert Membership.objects.get(user=member).role == "admin"
    [entry] = _entries(action="organizations.member.role_changed")
    assert (entry.actor, entry.target, entry.details) == (
        "member",
        member.email,
        {"role": "Administrator"},
    )


def test_another_organisation_s_member_is_not_found_in_this_scope(org, owner, outsider):
    with scopes_disabled():
        theirs = Membership.objects.select_related("user").get(user=outsider)
    with scope(organization=org):
        with pytest.raises(Membership.DoesNotExist):
            actions.change_role(theirs, actor=Actor.member(owner), role="staff")
        with pytest.raises(Membership.DoesNotExist):
            actions.remove_member(theirs, actor=Actor.member(owner))
    with scopes_disabled():
        assert Membership.objects.get(user=outsider).role == "admin"
    assert not _entries()


def test_remove_member_keeps_the_last_administrator(org, owner, member) -> None:
    with scopes_disabled():
        ours = Membership.objects.select_related("user").get(user=owner)
        theirs = Membership.objects.select_related("user").get(user=member)
    with scope(organization=org):
        with pytest.raises(ValidationError) as refused:
            actions.remove_member(ours, actor=Actor.member(owner))
        assert set(refused.value.message_dict) == {NON_FIELD_ERRORS}
        actions.remove_member(theirs, actor=Actor.member(owner))
        assert list(Membership.objects.all()) == [ours]
    [entry] = _entries(action="organizations.member.removed")
    assert (entry.actor, entry.user, entry.target) == ("member", owner, member.email)


def test_the_role_and_remove_buttons_call_their_actions(owner_client, org, member) -> None:
    with scopes_disabled():
        theirs = Membership.objects.get(user=member)
    base = f"/o/{org.slug}/settings/members/{theirs.uuid}"
    with _calls("change_role") as change, _calls("remove_member") as remove:
        owner_client.post(f"{base}/role/", {"role": "admin"})
        owner_client.post(f"{base}/remove/")
    change.assert_called_once()
    remove.assert_called_once()


def test_the_last_administrator_s_buttons_say_why_nothing_changed(owner_client, org, owner):
    with scopes_disabled():
        ours = Membership.objects.get(user=owner)
    base = f"/o/{org.slug}/settings/members/{ours.uuid}"
    for response in (
        owner_client.post(f"{base}/role/", {"role": "staff"}, follow=True),
        owner_client.post(f"{base}/remove/", follow=True),
        owner_client.post(f"{base}/role/", {}, follow=True),
    ):
        [message] = [str(m) for m in response.context["messages"]]
        assert "administrator" in message or "role" in message
    with scopes_disabled():
        assert Membership.objects.get(user=owner).role == "admin"


# export_audit_log


def test_export_audit_log_reads_this_organisation_s_entries_and_records_it(
    org, other_org, owner, outsider
) -> None:
    with scope(organization=other_org):
        Actor.member(outsider).audit(other_org, "organizations.settings.updated", other_org)
    with scopes_disabled():
        everything = AuditEntry.objects.all()
        exported = actions.export_audit_log(
            org, actor=Actor.member(owner), entries=everything, filters="app=organizations"
        )
        assert [e.organization_id for e in exported] == [org.pk]
    [entry] = _entries(action="organizations.audit.exported")
    assert (entry.organization, entry.actor, entry.details) == (
        org,
        "member",
        {"filters": "app=organizations"},
    )


def test_the_csv_export_calls_export_audit_log(owner_client, org) -> None:
    with _calls("export_audit_log") as spy:
        response = owner_client.get(f"/o/{org.slug}/settings/audit/export.csv")
        b"".join(response.streaming_content)
    spy.assert_called_once()


# The events of an account


def test_an_account_s_event_is_recorded_in_each_of_its_organisations(
    org, other_org, member
) -> None:
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=member)
    entries = actions.record_login_failure(member, address="192.0.2.1", step="second factor")
    assert {(e.organization, e.actor, e.user, e.target) for e in entries} == {
        (org, "member", member, "member"),
        (other_org, "member", member, "member"),
    }
    assert entries[0].details == {"address": "192.0.2.1", "step": "second factor"}
    loner = get_user_model().objects.create_user("loner", "loner@example.com")
    assert actions.record_login(loner, address="192.0.2.1") == []


def test_log_in_pages_call_record_login_and_record_login_failure(org, owner, member) -> None:
    """The password page, and the second-factor page after it."""
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    with _calls("record_login") as logged_in, _calls("record_login_failure") as failed:
        Client().post("/login/", {"username": "member", "password": "wrong"})
        assert Client().post("/login/", {"username": "member", "password": "pw"}).status_code == 302
        two_steps = Client()
        two_steps.post("/login/", {"username": "owner", "password": "pw"})
        two_steps.post("/login/code/", {"code": "000000"})
        device.refresh_from_db()
        device.throttle_reset()
        assert two_steps.post("/login/code/", {"code": _code(device)}).status_code == 302
    assert [c.args[0] for c in logged_in.call_args_list] == [member, owner]
    assert [c.args[0] for c in failed.call_args_list] == [member, owner]
    assert failed.call_args.kwargs["step"] == "second factor"


def test_a_reset_link_calls_its_two_actions(org, owner, django_capture_on_commit_callbacks):
    """The outbox drain sending the link, then the page choosing the new password."""
    with _calls("record_password_reset_request") as asked:
        with django_capture_on_commit_callbacks(execute=True):
            Client().post("/password/reset/", {"email": owner.email})
        send_due()
    asked.assert_called_once_with(owner)
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[0].body).group(1)
    client = Client()
    form = client.get(link, follow=True)
    with _calls("record_password_change") as changed:
        client.post(
            form.redirect_chain[-1][0], {"new_password1": PASSWORD, "new_password2": PASSWORD}
        )
    changed.assert_called_once_with(owner)
    [entry] = _entries(action="organizations.auth.password_changed")
    assert (entry.actor, entry.user) == ("member", owner)


def test_set_up_two_factor_confirms_one_s_own_device_only(org, owner, member) -> None:
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=False)
    with pytest.raises(ValueError):
        actions.set_up_two_factor(device, actor=Actor.member(member))
    actions.set_up_two_factor(device, actor=Actor.member(owner))
    device.refresh_from_db()
    assert device.confirmed
    [entry] = _entries(action="organizations.auth.two_factor_enabled")
    assert (entry.actor, entry.user) == ("member", owner)


def test_remove_two_factor_refuses_while_an_organisation_requires_it(org, owner) -> None:
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    Organization.objects.filter(pk=org.pk).update(require_two_factor=True)
    with pytest.raises(ValidationError) as refused:
        actions.remove_two_factor(owner, actor=Actor.member(owner))
    assert "Acme" in refused.value.messages[0]
    assert TOTPDevice.objects.filter(user=owner).exists()
    # The operator's reset goes through: the phone is lost.
    assert actions.reset_two_factor(owner, actor=Actor.system("reset_two_factor")) == 1
    assert not TOTPDevice.objects.exists()
    [entry] = _entries(action="organizations.auth.two_factor_disabled")
    assert (entry.actor, entry.user, entry.target) == ("system", None, "owner")
    assert entry.details == {"by": "reset_two_factor", "job": "reset_two_factor"}
    assert actions.reset_two_factor(owner, actor=Actor.system("reset_two_factor")) == 0
    assert len(_entries()) == 1


def test_the_two_factor_page_calls_set_up_and_remove(owner_client, owner) -> None:
    owner_client.get("/account/two-factor/")
    pending = TOTPDevice.objects.get(user=owner, confirmed=False)
    with _calls("set_up_two_factor") as set_up, _calls("remove_two_factor") as remove:
        owner_client.post("/account/two-factor/", {"action": "confirm", "code": _code(pending)})
        pending.refresh_from_db()
        pending.last_t = -1
        pending.save()
        owner_client.post("/account/two-factor/", {"action": "disable", "code": _code(pending)})
    set_up.assert_called_once()
    remove.assert_called_once()
    assert not TOTPDevice.objects.exists()


def test_the_reset_two_factor_command_calls_reset_two_factor(org, owner) -> None:
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    with _calls("reset_two_factor") as spy:
        call_command("reset_two_factor", "owner", stdout=io.StringIO())
    spy.assert_called_once()
    assert spy.call_args.kwargs["actor"] == Actor.command("reset_two_factor")


def test_cancel_invitation_takes_its_e_mail_with_it(org, owner) -> None:
    with scope(organization=org):
        invitation = actions.invite_member(
            org, actor=Actor.member(owner), email="new@example.com", role="staff"
        )
        assert Message.objects.filter(invitation_link__invitation=invitation).exists()
        actions.cancel_invitation(invitation, actor=Actor.member(owner))
        assert not Message.objects.exists()


# retry_address


def test_the_try_again_button_calls_retry_address(member_client, org) -> None:
    from outbox.models import FailingAddress

    with scopes_disabled():
        FailingAddress.objects.create(organization=org, address="jo@example.com", reason="bounced")
    with _calls("retry_address") as spy:
        response = member_client.post(f"/o/{org.slug}/email/retry/", {"address": "jo@example.com"})
    assert response.status_code == 302
    spy.assert_called_once()
    with scopes_disabled():
        assert not FailingAddress.objects.exists()
    assert [e.target for e in _entries(action="organizations.address.retried")] == [
        "jo@example.com"
    ]
