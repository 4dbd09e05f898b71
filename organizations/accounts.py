"""Logging in and resetting a password: throttled, audited, and silent about who exists."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetConfirmView, PasswordResetView
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from organizations import actions
from organizations.clientip import client_ip
from outbox import registry
from outbox.mail import queue
from outbox.models import Message

logger = logging.getLogger(__name__)

RESET_WINDOW = 3600  # seconds
PASSKEY_BACKEND = "django_otp_webauthn.backends.WebAuthnBackend"


@receiver(user_logged_in)
def _audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    # A passkey alone signed in (its backend, not a password's): the log says so.
    session = getattr(request, "session", {})
    by_passkey = session.get(BACKEND_SESSION_KEY) == PASSKEY_BACKEND
    actions.record_login(user, address=client_ip(request), method="passkey" if by_passkey else "")


@receiver(user_login_failed)
def _audit_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = credentials.get("username") or ""
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None or request is None:
        # Nobody to tell; django-axes still counts the attempt by name and address.
        return
    actions.record_login_failure(user, address=client_ip(request))


def over_limit(key: str, limit: int) -> bool:
    """Counts one more request under `key`; true once past `limit` in the window."""
    if cache.add(key, 1, RESET_WINDOW):
        return limit < 1
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RESET_WINDOW)
        return False


class ThrottledPasswordResetView(PasswordResetView):
    """Answers every request alike and at once; the look-up and the e-mail run in a task.

    The page therefore takes the same time whether or not the address has an account,
    and says the same thing.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if over_limit(
            f"password-reset:address:{client_ip(request)}",
            settings.PASSWORD_RESET_LIMIT_PER_ADDRESS,
        ):
            response = render(request, "registration/password_reset_throttled.html", status=429)
            response["Retry-After"] = str(RESET_WINDOW)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        # Past the limit per address, the request is dropped without a word: saying so
        # would tell that the address is being asked for.
        if not over_limit(
            f"password-reset:email:{digest}", settings.PASSWORD_RESET_LIMIT_PER_EMAIL
        ):
            queue_password_reset(email, translation.get_language())
        return redirect(self.get_success_url())


class AuditedPasswordResetConfirmView(PasswordResetConfirmView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        actions.record_password_change(form.user)
        return response


PASSWORD_RESET = "organizations.password_reset"  # noqa: S105 - a kind of message


def register_kinds() -> None:
    registry.register(PASSWORD_RESET, _render_password_reset, _("Password reset"))


def queue_password_reset(email: str, language: str) -> None:
    """An outbox row for the address, whoever it belongs to: the look-up of the account
    happens when the e-mail is rendered, in the worker, never in the request."""
    queue(
        [
            Message(
                key=f"{PASSWORD_RESET}:{uuid.uuid4().hex}",
                kind=PASSWORD_RESET,
                address=email,
                language=language,
            )
        ]
    )


def _render_password_reset(row: Message) -> EmailMultiAlternatives | None:
    """A link for the account of the address; nothing (the row is cancelled) when there is
    none. With several accounts on one address, the oldest gets it."""
    form = PasswordResetForm(data={"email": row.address})
    if not form.is_valid():
        return None
    users = sorted(form.get_users(row.address), key=lambda user: user.pk)
    if not users:
        return None
    user = users[0]
    site = urlsplit(settings.SITE_URL)
    context = {
        "email": row.address,
        "domain": site.netloc,
        "site_name": site.netloc,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if site.scheme == "https" else "http",
    }
    with translation.override(row.language or settings.LANGUAGE_CODE):
        subject = render_to_string("registration/password_reset_subject.txt", context)
        body = render_to_string("registration/password_reset_email.html", context)
    actions.record_password_reset_request(user)
    return EmailMultiAlternatives(" ".join(subject.split()), body, None, [user.email])
