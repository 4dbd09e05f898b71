"""Passkeys (WebAuthn): a second factor beside the authenticator app, and a sign-in alone.

django-otp-webauthn does the ceremonies (options, challenge in the session, verification of
the signature) and ships the browser's script; the views here put them in the one sign-in
flow of twofactor.py:

- on the security page a member names a passkey, then creates it on their device; the action
  saves it under that name and audits it (`actions.add_passkey`);
- after a right password, an account with a passkey may answer the second step with it
  instead of a code (the pending log-in of twofactor.py, the same five minutes);
- on the log-in page, a passkey alone signs in: the authenticator verified its owner (PIN,
  fingerprint), so the session counts as verified by a second factor, as django-otp-webauthn
  intends. django-axes is asked first: an account locked out from this address stays so.

Every script is a static file (the library's, and js/passkeys.js); the pages carry their
configuration as a JSON data block, which the Content-Security-Policy does not execute.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware import csrf
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp_webauthn import exceptions
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.utils import rewrite_exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
    _get_pywebauthn_logger,
)

from organizations import actions, sso
from organizations.accounts import RESET_WINDOW, over_limit
from organizations.actors import Actor
from organizations.clientip import client_ip
from organizations.selectors import has_second_factor, passkeys_of, verified_by_second_factor
from organizations.twofactor import PENDING, PENDING_SECONDS

# The name chosen for the passkey being created, kept between the form and the ceremony.
NAME = "passkey_name"
# Whom an authentication ceremony was begun for: the signed-in or pending account, or nobody.
CEREMONY_USER = "passkey_ceremony_user"


def configuration(request: HttpRequest) -> dict[str, Any]:
    """What the library's script reads from the page (a JSON data block, not a script)."""
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("passkeys:authentication_begin"),
        "completeAuthenticationUrl": reverse("passkeys:authentication_complete"),
        "beginRegistrationUrl": reverse("passkeys:registration_begin"),
        "completeRegistrationUrl": reverse("passkeys:registration_complete"),
    }


def pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    """The account whose password was right and whose second step is awaited, if still in
    time (twofactor.py's pending log-in), with what the pending log-in holds."""
    pending = request.session.get(PENDING)
    if not pending or timezone.now().timestamp() - pending["at"] > PENDING_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user is not None else None


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of the passkey"),
        max_length=actions.PASSKEY_NAME_MAX_LENGTH,
        help_text=gettext_lazy("To tell your passkeys apart: “Work laptop”, “Phone”…"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )

    def clean_name(self) -> str:
        try:
            return actions.clean_passkey_name(self.cleaned_data["name"])
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["name"]) from None


@login_required
@require_http_methods(["GET", "POST"])
def passkey_add(request: HttpRequest) -> HttpResponse:
    """Names a new passkey, then shows the button that creates it on the device."""
    if sso.opened_by_provider(request):
        # An organisation's provider vouches for the account in that organisation only: a
        # passkey added now would open all of the account's organisations.
        return render(request, "registration/sso_elsewhere.html", status=403)
    user = request.user
    if has_second_factor(user) and not verified_by_second_factor(user):
        # Else a stolen password-only session could add its own passkey (the library refuses
        # it too): the existing factor first.
        messages.info(request, _("Confirm it is you first, with your second factor."))
        return redirect(f"{reverse('two_factor')}?{urlencode({'next': request.path})}")
    if request.method == "POST":
        form = PasskeyNameForm(request.POST)
        if form.is_valid():
            request.session[NAME] = form.cleaned_data["name"]
            return render(
                request,
                "registration/passkey_create.html",
                {"name": form.cleaned_data["name"], "passkey_config": configuration(request)},
            )
    else:
        count = len(passkeys_of(user)) + 1
        form = PasskeyNameForm(initial={"name": _("Passkey %(number)d") % {"number": count}})
    return render(request, "registration/passkey_add.html", {"form": form})


@login_required
@require_POST
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if sso.opened_by_provider(request):
        return render(request, "registration/sso_elsewhere.html", status=403)
    credential = WebAuthnCredential.objects.filter(pk=pk, user=request.user).first()
    if credential is None:
        # Another account's passkey does not exist for this one.
        raise Http404
    if not verified_by_second_factor(request.user):
        # A session older than the account's second factor (or stolen before it) removes
        # nothing: as the app asks for a code to be turned off.
        messages.info(request, _("Confirm it is you first, with your second factor."))
        return redirect("two_factor")
    try:
        actions.remove_passkey(credential, actor=Actor.member(request.user))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("The passkey “%(name)s” was removed.") % {"name": credential.name}
        )
    return redirect("two_factor")


class RegistrationBegin(BeginCredentialRegistrationView):
    """The options to create a passkey, for the signed-in account (verified if it has a
    second factor already: the library checks it); never for a session a provider opened."""

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        if sso.opened_by_provider(self.request):
            raise PermissionDenied
        return super().post(*args, **kwargs)


class RegistrationComplete(CompleteCredentialRegistrationView):
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        if sso.opened_by_provider(self.request):
            raise PermissionDenied
        user = self.get_user()
        state = self.get_state()
        name = self.request.session.pop(NAME, "")
        helper = self.get_helper()
        try:
            with rewrite_exceptions(logger=_get_pywebauthn_logger()):
                credential = actions.add_passkey(
                    actor=Actor.member(user),
                    name=name,
                    verify=lambda owner: helper.register_complete(
                        user=owner, state=state, data=self.request.data
                    ),
                )
        except exceptions.UnprocessableEntity:
            raise exceptions.UnprocessableEntity(
                detail=_("This passkey could not be verified. Try again.")
            ) from None
        except ValidationError as error:
            raise exceptions.UnprocessableEntity(detail=" ".join(error.messages)) from None
        if not verified_by_second_factor(self.request.user):
            # A first second factor verifies the session that created it (as the app does).
            otp_login(self.request, credential)
        messages.success(
            self.request, _("The passkey “%(name)s” was added.") % {"name": credential.name}
        )
        return JsonResponse({"id": credential.pk, "redirect_url": reverse("two_factor")})


def _ceremony_user(request: HttpRequest) -> Any:
    """The signed-in account, else the pending one; None for a sign-in by passkey alone."""
    if request.user.is_authenticated:
        return request.user
    pending = pending_user(request)
    return pending[0] if pending else None


class AuthenticationBegin(BeginCredentialAuthenticationView):
    """The options to sign with a passkey. For a known account (signed in, or pending after
    its password) they list its passkeys; for nobody, any passkey of this site may answer,
    and the authenticator must verify its owner."""

    def get_user(self) -> Any:
        return _ceremony_user(self.request)

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        user = self.get_user()
        # Each anonymous ceremony keeps a challenge in a new session: bounded per address.
        if user is None and over_limit(
            f"passkey-sign-in:address:{client_ip(self.request)}",
            settings.PASSKEY_SIGN_IN_LIMIT_PER_ADDRESS,
        ):
            refused = JsonResponse(
                {"detail": _("Too many attempts. Try again later."), "code": "throttled"},
                status=429,
            )
            refused["Retry-After"] = str(RESET_WINDOW)
            return refused
        options: JsonResponse = super().post(*args, **kwargs)
        self.request.session[CEREMONY_USER] = user.pk if user is not None else None
        return options


class SignInLocked(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "locked_out"


class AuthenticationComplete(CompleteCredentialAuthenticationView):
    """Checks the passkey's signature, then: verifies the signed-in session; or ends the
    pending log-in (its second step); or, for nobody, signs its owner in."""

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        request = self.request
        pending = None if request.user.is_authenticated else pending_user(request)
        user = _ceremony_user(request)
        state = self.get_state()
        begun_for = request.session.pop(CEREMONY_USER, None)
        # The ceremony ends for whom it began: a pending log-in that expired in between does
        # not turn an answer without user verification into a sign-in.
        if begun_for != (user.pk if user is not None else None):
            raise exceptions.InvalidState()
        if user is None and not state.get("require_user_verification"):
            raise exceptions.InvalidState()
        helper = self.get_helper()
        try:
            with rewrite_exceptions(logger=_get_pywebauthn_logger()):
                device = helper.authenticate_complete(user=user, state=state, data=request.data)
        except exceptions.OTPWebAuthnApiError as error:
            if pending is not None:
                actions.record_login_failure(user, address=client_ip(request), step="passkey")
            if isinstance(error, exceptions.UnprocessableEntity):
                raise exceptions.UnprocessableEntity(
                    detail=_("This passkey could not be verified. Try again.")
                ) from None
            raise
        self.check_device_usable(device)
        if request.user.is_authenticated:
            otp_login(request, device)
            target = self.get_redirect_url()
        elif pending is not None:
            del request.session[PENDING]
            login(request, pending[0], backend=pending[1]["backend"])
            otp_login(request, device)
            target = pending[1]["next"]
        else:
            self._sign_in(device)
            target = self.get_redirect_url()
        if not target or not url_has_allowed_host_and_scheme(target, {request.get_host()}):
            target = reverse("home")
        return JsonResponse({"id": device.pk, "redirect_url": target})

    def _sign_in(self, device: WebAuthnCredential) -> None:
        request = self.request
        if AxesProxyHandler.is_locked(request, {"username": device.user.get_username()}):
            raise SignInLocked(
                detail=_(
                    "After several wrong passwords, logging in to this account from here is "
                    "paused for a while. Try again later."
                )
            )
        user = authenticate(request, webauthn_credential=device)
        if user is None:
            raise exceptions.UserDisabled()
        login(request, user)
        otp_login(request, device)
