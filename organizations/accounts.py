"""Logging in and resetting a password: throttled, audited, and silent about who exists."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.auth.views import PasswordResetConfirmView, PasswordResetView
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django_scopes import scope, scopes_disabled

from organizations import audit as audit_actions
from organizations.clientip import client_ip
from organizations.models import Membership, record_audit

logger = logging.getLogger(__name__)

RESET_WINDOW = 3600  # seconds


def _memberships(user: Any) -> list[Membership]:
    with scopes_disabled():
        return list(Membership.objects.filter(user=user).select_related("organization"))


def _record_everywhere(user: Any, action: str, **details: object) -> None:
    """An account belongs to no organisation alone: each of its organisations sees it."""
    for membership in _memberships(user):
        with scope(organization=membership.organization):
            record_audit(membership.organization, user, action, user.get_username(), **details)


@receiver(user_logged_in)
def _audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    _record_everywhere(user, audit_actions.LOGIN, address=client_ip(request))


@receiver(user_login_failed)
def _audit_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = credentials.get("username") or ""
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None or request is None:
        # Nobody to tell; django-axes still counts the attempt by name and address.
        return
    _record_everywhere(user, audit_actions.LOGIN_FAILED, address=client_ip(request))


def _over_limit(key: str, limit: int) -> bool:
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
        if _over_limit(
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
        if not _over_limit(
            f"password-reset:email:{digest}", settings.PASSWORD_RESET_LIMIT_PER_EMAIL
        ):
            language = translation.get_language()
            transaction.on_commit(lambda: send_password_reset.delay(email, language))
        return redirect(self.get_success_url())


class AuditedPasswordResetConfirmView(PasswordResetConfirmView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        _record_everywhere(form.user, audit_actions.PASSWORD_CHANGED)
        return response


@shared_task
def send_password_reset(email: str, language: str) -> None:
    """Looks up the accounts of `email` and sends each a link; nothing when there is none."""
    site = urlsplit(settings.SITE_URL)
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        return
    users = list(form.get_users(email))
    with translation.override(language):
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            subject_template_name="registration/password_reset_subject.txt",
            email_template_name="registration/password_reset_email.html",
        )
    for user in users:
        _record_everywhere(user, audit_actions.PASSWORD_RESET_REQUESTED)
