"""Single sign-on through an organisation's OpenID Connect provider (Authlib's client).

Each organisation may name one provider (Settings > Security): its discovery document is
read when it is saved and kept (`SsoProvider.metadata`), its client secret is kept sealed.
A sign-in is Authlib's authorisation-code flow with PKCE: state and nonce wait in the
session; the ID token's signature (the provider's key set), issuer, audience, nonce and
expiry are checked by Authlib's `CodeIDToken`; then this module asks for a verified e-mail
address and finds the one member of that organisation who has it. Nobody is ever created.

The sign-in itself goes through `django.contrib.auth.authenticate` (`SsoBackend`), so that
django-axes sees it as any other, and the session remembers, per organisation, that it
passed the provider and whether the provider's second factor counts there
(`counts_as_second_factor`), which the tenant middleware reads.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from authlib.integrations.requests_client import OAuth2Session
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.signals import user_logged_in
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ObjectDoesNotExist
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from joserfc.errors import ClaimError, JoseError
from requests.adapters import HTTPAdapter

from organizations.models import Organization, SsoProvider
from organizations.netaddr import is_public

# The session's record of the organisations this session passed the provider of:
# {organization id: {"user": user id, "mfa": whether the provider's second factor counts}}.
SIGNED_IN = "sso_signed_in"
# Where to go after the provider, per organisation slug.
NEXT = "sso_next"
# Set when the session was opened through a provider, not a password: the id of the one
# organisation whose provider vouched for the account. An organisation's administrators
# choose its provider, so it speaks for that organisation only: the account's other
# organisations ask for the password (`reaches`).
ONLY = "sso_only"
BACKEND = "organizations.sso.SsoBackend"
SCOPE = "openid email"
TIMEOUT_SECONDS = 10
# The fields a discovery document must hold for the authorisation-code flow.
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
# What is kept of it: the flow reads these and nothing else. The client library takes the
# document as keyword arguments, so a provider's extra keys ("client_secret",
# "client_kwargs", "authorize_url"...) would otherwise override or break our own.
KEPT_METADATA = (
    *REQUIRED_METADATA,
    "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "userinfo_endpoint",
)


class SsoRefused(Exception):
    """A sign-in that does not go through; `code` is what the audit log records."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


# The client secret, sealed.


def _fernet() -> MultiFernet:
    # One key per SECRET_KEY (the current one first): rotating SECRET_KEY with the old one
    # among SECRET_KEY_FALLBACKS still opens secrets sealed before.
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(
                        "organizations.sso.client_secret", "", secret=key, algorithm="sha256"
                    ).digest()
                )
            )
            for key in keys
        ]
    )


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        # SECRET_KEY changed without the old one among the fallbacks: the secret must be
        # entered again, and until then the provider refuses the client.
        return ""


# The provider's discovery document.


def _check_address(url: str) -> None:
    """A discovery document or endpoint must be a public https address in production: the
    server fetches it, and must not be turned against the machines beside it."""
    parts = urlsplit(url)
    if settings.SSO_ALLOW_PRIVATE_ADDRESSES:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SsoRefused("address", str(_("This is not a web address.")))
        return
    if parts.scheme != "https" or not parts.hostname:
        raise SsoRefused("address", str(_("The provider's addresses must start with https://.")))
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise SsoRefused("address", str(_("This address's host name is unknown."))) from None
    for *_rest, sockaddr in found:
        if not is_public(str(sockaddr[0]).split("%")[0]):
            raise SsoRefused("address", str(_("This address leads to a private or local network.")))


def read_discovery(url: str) -> dict[str, Any]:
    """The provider's discovery document, checked; `SsoRefused` says what is wrong with it,
    never what the server answered."""
    unreadable = str(_("No OpenID Connect discovery document could be read at this address."))
    _check_address(url)
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError):
        raise SsoRefused("discovery", unreadable) from None
    if not isinstance(document, dict) or any(
        not isinstance(document.get(key), str) or not document[key] for key in REQUIRED_METADATA
    ):
        raise SsoRefused("discovery", unreadable)
    for key in REQUIRED_METADATA[1:]:
        _check_address(document[key])
    # ID tokens are taken signed with the provider's published keys only: no shared-secret
    # (HS*) algorithm, which would make the client secret a signing key, and never "none".
    algorithms = document.get("id_token_signing_alg_values_supported")
    document["id_token_signing_alg_values_supported"] = [
        alg
        for alg in (algorithms if isinstance(algorithms, list) else [])
        if isinstance(alg, str) and alg[:2] in ("RS", "PS", "ES", "Ed")
    ] or ["RS256"]
    return kept_metadata(document)


def kept_metadata(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in KEPT_METADATA if key in document}


def form_action_origin(provider: SsoProvider) -> str:
    """The origin a sign-in form posts on to (its response redirects there)."""
    parts = urlsplit(str(provider.metadata.get("authorization_endpoint", "")))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@register(Tags.security, deploy=True)
def check_private_addresses(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """`check --deploy` says when providers may be plain http or private addresses."""
    if not settings.SSO_ALLOW_PRIVATE_ADDRESSES:
        return []
    return [
        Warning(
            "SSO_ALLOW_PRIVATE_ADDRESSES is on: an administrator may name an OpenID Connect "
            "provider over plain http or on a private or local address, which this server "
            "then fetches.",
            hint="Unset SSO_ALLOW_PRIVATE_ADDRESSES (it follows DEBUG) in production.",
            id="organizations.sso.W001",
        )
    ]


# The organisation's provider.


def provider_of(organization: Organization) -> SsoProvider | None:
    try:
        return organization.sso_provider
    except ObjectDoesNotExist:
        return None


def provider_for_slug(slug: str) -> SsoProvider | None:
    with scopes_disabled():
        return (
            SsoProvider.objects.select_related("organization")
            .filter(organization__slug=slug)
            .first()
        )


def redirect_uri(organization: Organization) -> str:
    """The address to register with the provider: one per organisation."""
    return settings.SITE_URL + reverse("sso_callback", kwargs={"organization": organization.slug})


def _name(provider: SsoProvider) -> str:
    return f"sso-{provider.organization_id}"


def started_here(request: HttpRequest, provider: SsoProvider) -> bool:
    """Whether this session started a sign-in with the provider (Authlib keeps its state
    under `_state_<name>_<state>`): an answer nobody here asked for is not worth a record."""
    prefix = f"_state_{_name(provider)}_"
    # A session is not iterable; its keys are.
    keys = request.session.keys()
    return any(key.startswith(prefix) for key in keys)


def _checked_address(hostname: str, port: int) -> str:
    """The address a request to `hostname` connects to, every address of the name checked
    (organizations.netaddr) on the one resolution the connection then uses."""
    try:
        found = [
            str(info[4][0]).split("%")[0]
            for info in socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        ]
    except (OSError, UnicodeError, ValueError):
        raise requests.ConnectionError("unresolved") from None
    if not found or not all(map(is_public, found)):
        raise requests.ConnectionError("not a public address")
    return found[0]


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address checked for the request's host name, and keeps the name for
    the Host header, the TLS server name and the certificate: a name that answers otherwise
    on a second resolution (DNS rebinding) is never resolved again."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        hostname = host_params["host"]
        port = host_params["port"] or (443 if host_params["scheme"] == "https" else 80)
        host_params = {**host_params, "host": _checked_address(hostname, port)}
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        return host_params, pool_kwargs

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.headers["Host"] = urlsplit(request.url or "").netloc.rsplit("@", 1)[-1]
        return super().send(request, *args, **kwargs)


class _CheckedSession(OAuth2Session):
    """Authlib's session for the token and key-set requests of each sign-in: no redirect
    followed, no proxy from the environment, and (in production) only public addresses,
    checked when connecting — not only when the provider was saved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trust_env = False
        if not settings.SSO_ALLOW_PRIVATE_ADDRESSES:
            self.mount("https://", _PinnedAdapter())
            self.mount("http://", _PinnedAdapter())

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


class _App(DjangoOAuth2App):
    client_cls = _CheckedSession


def _client(provider: SsoProvider) -> DjangoOAuth2App:
    # A document kept before only the flow's keys were: read through the same list.
    metadata = kept_metadata(provider.metadata)
    return _App(
        DjangoIntegration(_name(provider)),
        name=_name(provider),
        client_id=provider.client_id,
        client_secret=unseal(provider.client_secret_sealed),
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT_SECONDS,
        },
        **metadata,
    )


def start(request: HttpRequest, provider: SsoProvider, next_url: str) -> HttpResponse:
    """The redirection to the provider; state, nonce and PKCE verifier wait in the session."""
    request.session[NEXT] = {**request.session.get(NEXT, {}), provider.organization.slug: next_url}
    return _client(provider).authorize_redirect(request, redirect_uri(provider.organization))


@dataclass(frozen=True)
class Identity:
    email: str
    subject: str


def finish(request: HttpRequest, provider: SsoProvider) -> Identity:
    """The provider's answer, checked: a valid ID token for this client and this session's
    sign-in, carrying a verified e-mail address."""
    issuer = provider.metadata.get("issuer")
    try:
        token = _client(provider).authorize_access_token(
            request,
            # Named rather than left to Authlib's defaults, which check the issuer only when
            # the metadata names one, and the audience only through "azp": a token issued to
            # another client of the provider that names us as its "azp" would pass them.
            claims_options={
                "iss": {"essential": True, "values": [issuer]},
                "aud": {"essential": True, "values": [provider.client_id]},
                "exp": {"essential": True},
                "sub": {"essential": True},
            },
            leeway=60,
        )
    except (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError) as error:
        raise SsoRefused(
            _refusal_code(error), str(_("The identity provider's answer could not be accepted."))
        ) from None
    claims = token.get("userinfo")
    if not claims:
        # No ID token (a plain OAuth answer): nothing says who signed in, or for whom.
        raise SsoRefused(
            "no_id_token", str(_("The identity provider's answer could not be accepted."))
        )
    email = claims.get("email")
    # Only a JSON true: "true" as a string, a missing claim or false are not a verification.
    if not isinstance(email, str) or not email or claims.get("email_verified") is not True:
        raise SsoRefused(
            "email_not_verified",
            str(_("The identity provider did not confirm your e-mail address.")),
        )
    return Identity(email=email.strip(), subject=str(claims["sub"]))


def _refusal_code(error: Exception) -> str:
    # The log keeps which check failed ("invalid_claim:aud", "expired_token"), never the
    # token.
    if isinstance(error, ClaimError) and error.error != "expired_token":
        return f"{error.error}:{error.claim}"[:40]
    if isinstance(error, AuthlibBaseError | JoseError):
        return str(error.error or "oauth_error")[:40]
    # Fixed words, never the exception's name: an administrator reads them, and must not learn
    # from them what answers at an address the server was sent to.
    if isinstance(error, requests.RequestException):
        return "provider_unreachable"
    return "provider_answer_unreadable"


def match_member(organization: Organization, identity: Identity) -> Any:
    """The one active member of the organisation with this address; never an account of
    another organisation, never a new one."""
    with scopes_disabled():
        users = list(
            get_user_model()
            .objects.filter(
                email__iexact=identity.email,
                is_active=True,
                memberships__organization=organization,
            )
            .distinct()[:2]
        )
    if len(users) != 1:
        raise SsoRefused(
            "no_member" if not users else "ambiguous",
            str(
                _("No member of %(organization)s has this e-mail address: %(email)s.")
                % {"organization": organization.name, "email": identity.email}
            )
            if not users
            else str(_("Several accounts of this organisation share this e-mail address.")),
        )
    return users[0]


def take_next(request: HttpRequest, organization: Organization) -> str:
    waiting = dict(request.session.get(NEXT, {}))
    next_url = str(waiting.pop(organization.slug, "") or "")
    request.session[NEXT] = waiting
    return next_url


class SsoBackend(BaseBackend):
    """Logs in the member `finish` and `match_member` found; listed after django-axes'
    backend, which refuses a locked-out name and address before it."""

    def authenticate(
        self, request: HttpRequest | None, *, sso_user: Any = None, **credentials: Any
    ) -> Any:
        if sso_user is None or not getattr(sso_user, "is_active", False):
            return None
        return sso_user

    def get_user(self, user_id: Any) -> Any:
        return get_user_model().objects.filter(pk=user_id, is_active=True).first()


# What the session passed.


def remember(request: HttpRequest, provider: SsoProvider, user: Any, *, opened: bool) -> None:
    """Records that this session passed the provider; `opened` when it also opened the
    session (nobody was logged in)."""
    if opened:
        request.session[ONLY] = provider.organization_id
    signed_in = dict(request.session.get(SIGNED_IN, {}))
    signed_in[str(provider.organization_id)] = {
        "user": user.pk,
        "mfa": provider.enforces_second_factor,
    }
    request.session[SIGNED_IN] = signed_in


def _passed(request: HttpRequest, organization: Organization) -> dict[str, Any] | None:
    entry = request.session.get(SIGNED_IN, {}).get(str(organization.pk))
    # Bound to the account: a session that changes hands keeps nothing of the other's.
    if entry and entry.get("user") == getattr(request.user, "pk", None):
        return dict(entry)
    return None


def signed_in_through_provider(request: HttpRequest, organization: Organization) -> bool:
    return _passed(request, organization) is not None


def counts_as_second_factor(request: HttpRequest, organization: Organization) -> bool:
    """The organisation takes this session's sign-in through its provider as its second
    factor only while its administrators say the provider enforces one."""
    provider = provider_of(organization)
    entry = _passed(request, organization)
    return bool(provider is not None and provider.enforces_second_factor and entry and entry["mfa"])


def opened_by_provider(request: HttpRequest) -> bool:
    """The session was opened by a provider, not a password: the account's own settings
    (its second factor) are not the provider's to change."""
    return request.session.get(ONLY) is not None


def reaches(request: HttpRequest, organization: Organization) -> bool:
    """Whether this session may open the organisation as far as single sign-on goes: any,
    after a password; only the provider's own, after a provider alone."""
    only = request.session.get(ONLY)
    return only is None or only == organization.pk


@receiver(user_logged_in)
def _password_opens_every_organisation(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if request is not None and getattr(user, "backend", "") != BACKEND:
        request.session.pop(ONLY, None)


def needs_sign_in(request: HttpRequest, organization: Organization) -> bool:
    """The organisation requires its provider and this session has not passed it."""
    provider = provider_of(organization)
    return bool(provider and provider.require_sso) and not signed_in_through_provider(
        request, organization
    )
