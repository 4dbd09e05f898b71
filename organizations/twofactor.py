"""An optional second factor (TOTP, django-otp), which an organisation can require.

A user with a confirmed device logs in in two steps: the password, then a code. Until the
code is right nothing is logged in; the pending user waits in the session for five minutes.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizations import actions, sso
from organizations.actors import Actor
from organizations.clientip import client_ip
from organizations.selectors import (
    has_second_factor,
    organizations_requiring_two_factor,
    passkeys_of,
    verified_by_second_factor,
)

PENDING = "two_factor_pending"
PENDING_SECONDS = 300


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args: Any, device: TOTPDevice | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        # verify_token throttles wrong codes on the device itself (django-otp).
        if self.device is None or not self.device.verify_token(code):
            raise forms.ValidationError(_("This code is not right, or it has expired."))
        return code


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


class TwoStepLoginView(LoginView):
    """The password first; with a device, the code on the next page before any login."""

    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not has_second_factor(user):
            return super().form_valid(form)
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "next": self.get_success_url(),
            "at": timezone.now().timestamp(),
        }
        return redirect("login_verify")


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending or timezone.now().timestamp() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.info(request, _("Please log in again."))
        return redirect("login")
    user = get_user_model().objects.get(pk=pending["user"])
    device = confirmed_device(user)
    form = CodeForm(request.POST or None, device=device)
    if request.method == "POST":
        if form.is_valid():
            del request.session[PENDING]
            login(request, user, backend=pending["backend"])
            otp_login(request, device)
            target = pending["next"]
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                target = settings.LOGIN_REDIRECT_URL
            return redirect(target)
        actions.record_login_failure(user, address=client_ip(request), step="second factor")
    return render(
        request,
        "registration/login_verify.html",
        # An account may have passkeys and no app: then the page offers the passkey alone.
        {"form": form, "has_code": device is not None, "passkeys": bool(passkeys_of(user))},
    )


def _qr_data_uri(device: TOTPDevice) -> str:
    # svg_inline() leaves out xmlns (HTML does not need it); an <img> does, and showed a
    # broken image. A white ground keeps the quiet zone scannable on any background.
    svg = io.BytesIO()
    segno.make(device.config_url, error="m").save(
        svg, kind="svg", scale=4, light="#fff", xmldecl=False, svgns=True
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up, verify this session with, or remove the second factor."""
    if sso.opened_by_provider(request):
        # An organisation's provider vouches for the account in that organisation only.
        return render(request, "registration/sso_elsewhere.html", status=403)
    user = request.user
    device = confirmed_device(user)
    action = request.POST.get("action")
    if device is None and not verified_by_second_factor(user) and passkeys_of(user):
        # An app set up now would verify a session that the account's passkey has not.
        return render(request, "registration/passkey_confirm.html")
    if device is None:
        # A fresh secret each time the page shows it, until one is confirmed.
        if request.method == "GET" or action != "confirm":
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            pending = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        else:
            pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        form = CodeForm(request.POST if action == "confirm" else None, device=pending)
        if action == "confirm" and form.is_valid():
            actions.set_up_two_factor(pending, actor=Actor.member(user))
            otp_login(request, pending)
            messages.success(request, _("The second factor is on: log-ins will ask for a code."))
            return _after(request)
        context = {
            "form": form,
            "qr": _qr_data_uri(pending) if pending else "",
            "secret": base64.b32encode(pending.bin_key).decode() if pending else "",
        }
        return render(request, "registration/two_factor_setup.html", context)

    form = CodeForm(request.POST if action in {"verify", "disable"} else None, device=device)
    if action == "verify" and form.is_valid():
        otp_login(request, device)
        return _after(request)
    if action == "disable" and form.is_valid():
        try:
            actions.remove_two_factor(user, actor=Actor.member(user))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("The second factor is off."))
        return redirect("two_factor")
    return render(
        request,
        "registration/two_factor.html",
        {
            "form": form,
            "verified": verified_by_second_factor(user),
            "required_by": organizations_requiring_two_factor(user),
        },
    )


def _after(request: HttpRequest) -> HttpResponse:
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect(settings.LOGIN_REDIRECT_URL)
