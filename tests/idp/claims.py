"""What the test provider says about its users, and how a test makes it lie.

`TAMPER` holds the claims the next ID tokens get instead of the true ones (set through
`/_test/tamper`); "exp" is given as seconds from now, so that no test reads the clock.
"""

from __future__ import annotations

import time
from typing import Any

TAMPER: dict[str, Any] = {}


def userinfo(claims: dict[str, Any], user: Any) -> dict[str, Any]:
    claims["email"] = user.email
    # A user whose last name is "unverified" has an address the provider never confirmed.
    claims["email_verified"] = user.last_name != "unverified"
    claims["name"] = user.get_full_name()
    return claims


def tamper(id_token: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    for key, value in TAMPER.items():
        id_token[key] = int(time.time()) + int(value) if key == "exp" else value
    return id_token
