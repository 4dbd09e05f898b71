"""A software authenticator: what a browser and a passkey answer to a WebAuthn ceremony.

It makes real credentials (an ECDSA P-256 key pair, "none" attestation) and real signatures,
so the server's verification runs unchanged; the browser test uses Chromium's own virtual
authenticator instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"

UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _client_data(kind: str, options: dict[str, Any], origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": options["challenge"], "origin": origin, "crossOrigin": False}
    ).encode()


@dataclass
class Authenticator:
    """One passkey, created on demand; `verify_user` says whether it asks for the owner's PIN."""

    origin: str = ORIGIN
    rp_id: str = RP_ID
    verify_user: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    user_handle: bytes = b""
    sign_count: int = 0

    def _flags(self) -> int:
        return UP | (UV if self.verify_user else 0)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """The browser's answer to navigator.credentials.create(options)."""
        self.user_handle = unb64(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags() | AT])
            + struct.pack(">I", self.sign_count)
            + bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + cose_key
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(_client_data("webauthn.create", options, self.origin)),
                "attestationObject": b64(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
            "authenticatorAttachment": "platform",
        }

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """The browser's answer to navigator.credentials.get(options)."""
        self.sign_count += 1
        client_data = _client_data("webauthn.get", options, self.origin)
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", self.sign_count)
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }


def add_passkey(client: Any, name: str = "Work laptop", **kwargs: Any) -> Authenticator:
    """Through the pages and the ceremony, as the security page's button does."""
    authenticator = Authenticator(**kwargs)
    named = client.post("/account/passkeys/add/", {"name": name})
    assert named.status_code == 200, named
    options = client.post("/account/passkeys/registration/begin/").json()
    done = client.post(
        "/account/passkeys/registration/complete/",
        authenticator.create(options),
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    return authenticator


def sign_with(client: Any, authenticator: Authenticator, *, next: str = "") -> Any:
    """Begins and completes an authentication ceremony; the completion's response."""
    options = client.post("/account/passkeys/authentication/begin/").json()
    url = "/account/passkeys/authentication/complete/"
    if next:
        url += "?" + urlencode({"next": next})
    return client.post(url, authenticator.get(options), content_type="application/json")
