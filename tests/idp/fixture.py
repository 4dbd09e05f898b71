"""Starts the test identity provider (tests/idp/settings.py) as its own Django process on a
free port, once per test session, and drives its log-in page as a browser would."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "idp-pass-phrase-42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IdentityProvider:
    url: str

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/openid/.well-known/openid-configuration"

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    def set_up(self, **spec: Any) -> None:
        response = requests.post(f"{self.url}/_test/setup", json=spec, timeout=10)
        response.raise_for_status()

    def user(self, email: str, *, verified: bool = True) -> None:
        self.set_up(
            users=[
                {
                    "username": email,
                    "email": email,
                    "password": PASSWORD,
                    "last_name": "" if verified else "unverified",
                }
            ]
        )

    def client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        self.set_up(
            clients=[
                {"client_id": client_id, "client_secret": secret, "redirect_uris": redirect_uris}
            ]
        )

    def tamper(self, **claims: Any) -> None:
        """The next ID tokens carry these claims instead of the true ones ("exp" in seconds
        from now); with none, the truth again."""
        self.set_up(tamper=claims)

    def sign_in(self, authorize_url: str, email: str, password: str = PASSWORD) -> str:
        """Logs `email` in at the provider, as a browser would, and returns the address the
        provider sends the browser back to (the application's callback, with its code)."""
        browser = requests.Session()
        response = browser.get(authorize_url, allow_redirects=False, timeout=10)
        if response.status_code == 302 and "/accounts/login/" in response.headers["Location"]:
            login_url = urljoin(self.url, response.headers["Location"])
            page = browser.get(login_url, timeout=10)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token is not None, page.text
            next_url = re.search(r'name="next" value="([^"]*)"', page.text)
            response = browser.post(
                login_url,
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "username": email,
                    "password": password,
                    "next": next_url.group(1).replace("&amp;", "&") if next_url else "",
                },
                allow_redirects=False,
                timeout=10,
            )
            assert response.status_code == 302, response.text
            response = browser.get(
                urljoin(self.url, response.headers["Location"]), allow_redirects=False, timeout=10
            )
        assert response.status_code == 302, response.text
        return str(response.headers["Location"])

    def through(self, client: Any, email: str, slug: str, next_url: str = "") -> Any:
        """Posts the application's sign-in page for the organisation `slug` with a Django
        test client, signs `email` in here, and follows the provider's answer back."""
        start = client.post(f"/sso/{slug}/", {"next": next_url})
        assert start.status_code == 302 and start.url.startswith(self.url), start
        back = self.sign_in(start.url, email)
        assert back.startswith(f"http://testserver/sso/{slug}/callback/?"), back
        return client.get(back.removeprefix("http://testserver"))


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    folder = tmp_path_factory.mktemp("idp")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.idp.settings",
        "IDP_FOLDER": str(folder),
        "IDP_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    for command in (["migrate", "-v", "0"], ["creatersakey"]):
        subprocess.run(
            [sys.executable, "-m", "django", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    provider = IdentityProvider(url)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(provider.discovery_url, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The test identity provider did not start: {folder / 'server.log'}")
            time.sleep(0.2)
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
