"""The optional second factor, and organisations that require it."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from organizations.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def _device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_a_user_turns_the_second_factor_on_by_confirming_a_code(owner_client, owner):
    page = owner_client.get("/account/two-factor/")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.text
    pending = TOTPDevice.objects.get(user=owner, confirmed=False)
    wrong = owner_client.post("/account/two-factor/", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    pending.refresh_from_db()
    pending.throttle_reset()
    response = owner_client.post(
        "/account/two-factor/", {"action": "confirm", "code": _code(pending)}
    )
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=owner).confirmed
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="organizations.auth.two_factor_enabled").exists()


def test_with_a_device_the_password_alone_does_not_log_in(org, owner):
    device = _device(owner)
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": "pw"})
    assert response.status_code == 302 and response.url == "/login/code/"
    # Nothing is logged in yet.
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 302
    wrong = client.post("/login/code/", {"code": "123456"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="organizations.auth.login_failed").exists()
    device.refresh_from_db()
    device.throttle_reset()  # the wrong code made the device wait; a user would too
    right = client.post("/login/code/", {"code": _code(device)})
    assert right.status_code == 302
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 200


def test_wrong_codes_are_throttled_by_the_device(org, owner):
    device = _device(owner)
    client = Client()
    client.post("/login/", {"username": "owner", "password": "pw"})
    client.post("/login/code/", {"code": "000000"})
    # Right after a wrong code even the right one waits: guessing 10^6 codes is out of reach.
    response = client.post("/login/code/", {"code": _code(device)})
    assert response.status_code == 200 and response.context["form"].errors["code"]
    assert "_auth_user_id" not in client.session
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 302


def test_the_code_page_needs_a_password_first(db):
    response = Client().get("/login/code/")
    assert response.status_code == 302 and response.url == "/login/"


def test_an_organisation_that_requires_it_sends_members_to_set_it_up(
    owner_client, org, owner, member_client
):
    org.require_two_factor = True
    org.save()
    response = member_client.get(f"/o/{org.slug}/contacts/")
    assert response.status_code == 302
    assert response.url.startswith("/account/two-factor/?next=")


def test_an_admin_cannot_require_it_without_using_it(owner_client, org, owner):
    data = {
        "name": "Acme",
        "time_zone": "Europe/Paris",
        "default_language": "en",
        "date_style": "dmy",
    }
    response = owner_client.post(f"/o/{org.slug}/settings/", {**data, "require_two_factor": "on"})
    assert response.status_code == 200 and response.context["form"].errors["require_two_factor"]
    org.refresh_from_db()
    assert not org.require_two_factor
    device = _device(owner)
    owner_client.post("/account/two-factor/", {"action": "verify", "code": _code(device)})
    response = owner_client.post(f"/o/{org.slug}/settings/", {**data, "require_two_factor": "on"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.require_two_factor
    # The verified admin keeps working; the second factor cannot be turned off meanwhile.
    assert owner_client.get(f"/o/{org.slug}/contacts/").status_code == 200
    device.refresh_from_db()
    device.last_t = -1
    device.save()
    owner_client.post("/account/two-factor/", {"action": "disable", "code": _code(device)})
    assert TOTPDevice.objects.filter(user=owner).exists()


def test_the_setup_page_shows_the_key_for_typing(owner_client, owner):
    page = owner_client.get("/account/two-factor/")
    assert re.search(r"<code>[A-Z2-7]{32}</code>", page.text)


def test_an_operator_resets_a_lost_second_factor(org, owner, capsys):
    from django.core.management import CommandError, call_command

    _device(owner)
    call_command("reset_two_factor", "owner")
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert "1 device(s) removed" in capsys.readouterr().out
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="organizations.auth.two_factor_disabled", details__by="reset_two_factor"
        ).exists()
    with pytest.raises(CommandError):
        call_command("reset_two_factor", "nobody")
