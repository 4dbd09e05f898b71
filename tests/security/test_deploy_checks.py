"""check --deploy refuses settings that open the network to any organisation's admin or let
any client choose its own address."""

from __future__ import annotations

import secrets

import pytest

from organizations.checks import check_production_settings
from tests.organizations.test_settings import _run

pytestmark = pytest.mark.django_db


def _ids(settings) -> set[str | None]:
    return {problem.id for problem in check_production_settings(None)}


def test_webhooks_to_private_addresses_are_an_error(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    assert "backoffice.E003" not in _ids(settings)
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    assert "backoffice.E003" in _ids(settings)


@pytest.mark.parametrize(
    "proxies",
    [["0.0.0.0/0"], ["::/0"], ["10.0.0.1", "0.0.0.0/1"], ["::ffff:0:0/96"], ["2000::/3"]],
)
def test_a_catch_all_trusted_proxy_is_an_error(settings, proxies):
    settings.TRUSTED_PROXIES = proxies
    assert "backoffice.E004" in _ids(settings)


@pytest.mark.parametrize(
    "proxies",
    [
        [],
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
        ["203.0.113.7", "104.16.0.0/13", "2606:4700::/32", "::ffff:10.0.0.0/104"],
    ],
)
def test_proxies_listed_by_address_or_network_pass(settings, proxies):
    settings.TRUSTED_PROXIES = proxies
    assert "backoffice.E004" not in _ids(settings)


def test_check_deploy_reports_both(tmp_path):
    result = _run(
        "check",
        "--deploy",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="backoffice.example.com",
        SITE_URL="https://backoffice.example.com",
        EMAIL_HOST="smtp.example.com",
        AWS_STORAGE_BUCKET_NAME="documents",
        CACHE_URL="redis://127.0.0.1:6379/1",
        WEBHOOKS_ALLOW_PRIVATE_ADDRESSES="1",
        TRUSTED_PROXIES="0.0.0.0/0",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "backoffice.E003" in result.stderr and "backoffice.E004" in result.stderr
