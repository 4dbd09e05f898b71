"""System checks that refuse an unsafe production configuration (run by check --deploy)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    if not settings.SITE_URL.startswith("https://"):
        problems.append(
            Error(
                "SITE_URL must start with https:// in production: e-mailed links carry tokens.",
                id="backoffice.E001",
            )
        )
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        problems.append(
            Warning(
                "E-mails go to the console: set EMAIL_HOST so that clients receive their links.",
                id="backoffice.W001",
            )
        )
    storages: dict[str, Any] = settings.STORAGES
    if storages["default"]["BACKEND"].endswith("FileSystemStorage"):
        problems.append(
            Warning(
                "Documents are stored on local disk: set AWS_STORAGE_BUCKET_NAME to keep them "
                "in S3-compatible storage shared by every web server and worker.",
                id="backoffice.W002",
            )
        )
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        problems.append(
            Error(
                "The cache is per process: set CACHE_URL to a shared cache (Redis) so that "
                "the portal's and the login's rate limits hold across web workers.",
                id="backoffice.E002",
            )
        )
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        problems.append(
            Error(
                "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on: any organisation's administrator can "
                "make the server POST to its own network (databases, metadata services).",
                hint="Unset it in production. A deployment that really delivers to an "
                "internal receiver can silence backoffice.E003.",
                id="backoffice.E003",
            )
        )
    catch_all = [proxy for proxy in settings.TRUSTED_PROXIES if _is_catch_all(proxy)]
    if catch_all:
        problems.append(
            Error(
                f"TRUSTED_PROXIES trusts {', '.join(catch_all)}: any client could write its own "
                "X-Forwarded-For, and with it dodge the login's and the portal's rate limits "
                "and choose the address the audit log records.",
                hint="List only the addresses or networks of the proxies in front of gunicorn.",
                id="backoffice.E004",
            )
        )
    problems.extend(_demo_accounts())
    return problems


# Wider than a /8 (IPv4) or a /32 (IPv6) and not all private: no proxy tier is that large.
_WIDEST = {4: 8, 6: 32}
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _is_catch_all(proxy: str) -> bool:
    network = ipaddress.ip_network(proxy, strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        # REMOTE_ADDR of an IPv4 client on a dual-stack socket: judge the IPv4 network inside.
        network = ipaddress.IPv4Network(
            (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
        )
    return network.prefixlen < _WIDEST[network.version] and not network.is_private


def _demo_accounts() -> list[Warning]:
    from django.contrib.auth import get_user_model

    from organizations.demo import DEMO_ADMIN, DEMO_STAFF

    try:
        names = list(
            get_user_model()
            .objects.filter(username__in=[DEMO_ADMIN, DEMO_STAFF], email__endswith="@demo.example")
            .values_list("username", flat=True)
        )
    except DatabaseError:
        return []  # not migrated yet: nothing seeded either
    if not names:
        return []
    return [
        Warning(
            f"The demo accounts {', '.join(sorted(names))} exist, with the password the README "
            "prints: delete them (or change their passwords) before real use.",
            id="backoffice.W003",
        )
    ]
