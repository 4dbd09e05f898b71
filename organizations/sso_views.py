"""Settings > Security (the organisation's OpenID Connect provider) and the sign-in through it.

The sign-in pages live outside /o/<slug>/ (their URL names the organisation as
`organization`), since the person is not signed in yet when they reach them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from organizations import actions, sso
from organizations.actors import Actor
from organizations.clientip import client_ip
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.models import SsoProvider
from organizations.twofactor import PENDING, confirmed_device


class SsoProviderForm(forms.Form):
    discovery_url = forms.URLField(
        label=gettext_lazy("Discovery URL"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy(
            "The provider's address ending in /.well-known/openid-configuration."
        ),
        # A text input: the stylesheet gives url inputs no width.
        widget=forms.TextInput(attrs={"inputmode": "url", "spellcheck": "false"}),
    )
    client_id = forms.CharField(label=gettext_lazy("Client ID"), max_length=255)
    client_secret = forms.CharField(
        label=gettext_lazy("Client secret"),
        max_length=1000,
        required=False,
        strip=False,
        # Never sent back to the page: once saved it is only replaced.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    enforces_second_factor = forms.BooleanField(
        label=gettext_lazy("The provider enforces a second factor"),
        required=False,
        help_text=gettext_lazy(
            "Tick only if the provider always asks its own second factor: a sign-in through "
            "it then counts as this organisation's second factor."
        ),
    )
    require_sso = forms.BooleanField(
        label=gettext_lazy("Require single sign-on for members"),
        required=False,
        help_text=gettext_lazy(
            "Members then reach the organisation only after signing in through the provider."
        ),
    )

    def __init__(self, *args: Any, provider: SsoProvider | None = None, **kwargs: Any) -> None:
        if provider is not None:
            kwargs.setdefault(
                "initial",
                {
                    "discovery_url": provider.discovery_url,
                    "client_id": provider.client_id,
                    "enforces_second_factor": provider.enforces_second_factor,
                    "require_sso": provider.require_sso,
                },
            )
        super().__init__(*args, **kwargs)
        if provider is not None:
            self.fields["client_secret"].help_text = gettext_lazy(
                "Saved, and never shown again. Leave empty to keep it; type a new one to "
                "replace it."
            )


@admin_required
@require_http_methods(["GET", "POST"])
def security_settings(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    provider = sso.provider_of(request.organization)
    form = SsoProviderForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            actions.configure_sso(
                request.organization,
                actor=Actor.member(request.user),
                signed_in_through_it=sso.signed_in_through_provider(request, request.organization),
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The single sign-on provider was saved."))
            return redirect("security_settings", org_slug=org_slug)
    return render(
        request,
        "organizations/security.html",
        {
            "form": form,
            "provider": provider,
            "redirect_uri": sso.redirect_uri(request.organization),
            "signed_in_through_it": sso.signed_in_through_provider(request, request.organization),
        },
    )


@admin_required
@require_POST
def security_remove(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    actions.remove_sso(request.organization, actor=Actor.member(request.user))
    messages.success(request, _("Single sign-on was removed: members log in with passwords."))
    return redirect("security_settings", org_slug=org_slug)


def _provider(organization: str) -> SsoProvider:
    provider = sso.provider_for_slug(organization)
    if provider is None:
        raise Http404
    return provider


def _safe_next(request: HttpRequest, target: str, provider: SsoProvider) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("org_home", kwargs={"org_slug": provider.organization.slug})


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, organization: str) -> HttpResponse:
    """A page with one button that posts on to the provider; the form's response redirects
    there, so this page's CSP `form-action` names exactly that provider."""
    provider = _provider(organization)
    next_url = _safe_next(
        request, request.POST.get("next") or request.GET.get("next", ""), provider
    )
    if request.method == "POST":
        return sso.start(request, provider, next_url)
    response = render(
        request,
        "registration/sso_sign_in.html",
        {
            "sso_organization": provider.organization,
            "provider_host": sso.form_action_origin(provider).split("://", 1)[-1],
            "next": next_url,
        },
    )
    origin = sso.form_action_origin(provider)
    if origin:
        response._csp_update = {"form-action": [origin]}  # type: ignore[attr-defined]
    return response


@require_GET
def callback(request: HttpRequest, organization: str) -> HttpResponse:
    """The provider's answer: checked, matched to a member, then the same log-in as a
    password's (django-axes, the second factor, the audit log)."""
    provider = _provider(organization)
    address = client_ip(request)
    next_url = _safe_next(request, sso.take_next(request, provider.organization), provider)
    identity: sso.Identity | None = None
    # Only a sign-in this browser started leaves a record when it fails: anyone can send
    # answers to this address, and the audit log is not theirs to fill.
    started = sso.started_here(request, provider)
    try:
        identity = sso.finish(request, provider)
        user = sso.match_member(provider.organization, identity)
        if request.user.is_authenticated and request.user.pk != user.pk:
            raise sso.SsoRefused(
                "other_account",
                _("You are logged in with another account: log out first, then sign in again."),
            )
    except sso.SsoRefused as refusal:
        if started:
            actions.record_sso_refusal(
                provider.organization,
                reason=refusal.code,
                address=address,
                email=identity.email if identity else "",
            )
        return _failed(request, provider, refusal.message, next_url)
    # django-axes' backend refuses a locked-out name and address here, as at the password.
    authenticated = authenticate(request, username=user.get_username(), sso_user=user)
    if authenticated is None:
        actions.record_sso_refusal(
            provider.organization, reason="locked_out", address=address, email=identity.email
        )
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware answers with its lock-out page.
            return HttpResponse(status=403)
        return _failed(request, provider, _("Signing in did not work."), next_url)
    already_in = request.user.is_authenticated
    if (
        not already_in
        and confirmed_device(user) is not None
        and not provider.enforces_second_factor
    ):
        # The account's own second factor, as after a password: nothing is logged in until
        # its code is right (organizations.twofactor.login_verify).
        sso.remember(request, provider, user, opened=True)
        request.session[PENDING] = {
            "user": user.pk,
            "backend": authenticated.backend,
            "next": next_url,
            "at": timezone.now().timestamp(),
        }
        actions.record_sso_sign_in(
            provider, user, address=address, second_factor="code", subject=identity.subject
        )
        return redirect("login_verify")
    login(request, authenticated)
    sso.remember(request, provider, user, opened=not already_in)
    actions.record_sso_sign_in(
        provider,
        user,
        address=address,
        second_factor="provider" if provider.enforces_second_factor else "none",
        subject=identity.subject,
    )
    return redirect(next_url)


def _failed(
    request: HttpRequest, provider: SsoProvider, message: str, next_url: str
) -> HttpResponse:
    return render(
        request,
        "registration/sso_failed.html",
        {
            "sso_organization": provider.organization,
            "message": message,
            "next": next_url,
        },
        status=403,
    )
