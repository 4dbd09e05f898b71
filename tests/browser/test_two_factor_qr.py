"""The second factor's QR code is an image the browser can draw, not just its alt text."""

from __future__ import annotations

import pytest

from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_qr_code_is_drawn_on_the_setup_page(browser, axe, live_server, org, shots):
    make_member(org, "alice", "admin")
    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/account/two-factor/")
    image = page.locator("img[src^='data:image/svg+xml']")
    image.wait_for()
    # An SVG without its namespace is "broken" for an <img>: naturalWidth stays 0.
    page.wait_for_function("img => img.complete", arg=image.element_handle())
    width = image.evaluate("img => img.naturalWidth")
    height = image.evaluate("img => img.naturalHeight")
    assert width > 0 and width == height
    # The image is a QR code of the page's key: dark modules drawn inside it.
    dark = image.evaluate(
        """img => {
          const c = document.createElement('canvas');
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext('2d'); g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] < 128) n++;
          return n / (c.width * c.height);
        }"""
    )
    assert 0.2 < dark < 0.8
    assert page.locator("h1").inner_text() == "Activer le second facteur"
    axe.check(page)
    page.screenshot(path=str(shots / "41-two-factor-qr-fr.png"), full_page=True)
    context.close()
