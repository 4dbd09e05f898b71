"""Every form, in every language, posted back untouched, changes no stored value.

The pages are found by following the links of the back office from the organisation's home
(the client's page is reached from its e-mailed link), so a new form is covered without
being named here. Each form is read from the HTML and posted exactly as a browser would
send it when someone presses Enter without touching anything: the successful controls with
their rendered values, and the first submit button. A date rendered in a format the browser
cannot read (17/05/1990 in a date input) posts empty and fails this test.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import DossierItem
from organizations.models import AuditChain, AuditEntry, AuditSubject
from profiles.models import FieldValue, Source
from profiles.services import NewValue, apply_values, new_document, store_file
from tests import factories

pytestmark = pytest.mark.django_db

LANGUAGES = ["fr", "en"]
APPS = ["organizations", "profiles", "dossiers", "monitoring"]
# Bookkeeping that a visit or a save may move without changing anything a person stored.
BOOKKEEPING = {
    ("dossiers", "accesstoken"): {"last_used_at"},
    ("dossiers", "dossier"): {"status"},
    # An answer is compared as the client sees it: the answer given, or the value asked;
    # who saved the draft is attribution, not a value.
    ("dossiers", "dossieritem"): {"answer", "answered", "answered_by_id", "answered_by_user_id"},
}
# Actions that are not forms to fill in: they do what their button says.
NOT_FORMS = ("/i18n/", "/logout/")
# Forms that act only on what is typed into them (create, add, erase once the name is typed):
# posted empty, they are refused and do nothing.
CREATE_FORMS = ("/new/", "/settings/members/", "/erase/", "/settings/api/", "/settings/webhooks/")


@pytest.fixture
def world(org, owner) -> dict[str, Any]:
    """An organisation with a value of every type, a group, an expiry date, an open dossier."""
    fields = {
        "text": factories.field(org, "text", label="Nickname"),
        "long_text": factories.field(org, "long_text", label="Notes"),
        "number": factories.field(org, "number", label="Income"),
        "small": factories.field(org, "number", label="Rate"),
        "date": factories.field(org, "date", label="Birth date"),
        "email": factories.field(org, "email", label="Work e-mail"),
        "phone": factories.field(org, "phone", label="Mobile"),
        "choice": factories.field(org, "choice", label="Colour", choices=["Red", "Blue"]),
        "boolean": factories.field(org, "boolean", label="Resident"),
        "no": factories.field(org, "boolean", label="Smoker"),
        "document": factories.field(org, "document", label="ID", accepted_types=["pdf"]),
    }
    company_date = factories.field(org, "date", applies_to="company", label="Founded")
    person = factories.contact(org, language="fr", phone="+33 6 12 34 56 78")
    firm = factories.company(org, address="1 rue de la Paix\nParis")
    values = {
        "text": "Jo",
        "long_text": "Line 1\nLine 2",
        "number": "1234567.89",
        "small": "-0.000125",
        "date": "1990-05-17",
        "email": "jo@example.com",
        "phone": "+33 1 23 45 67 89",
        "choice": "Blue",
        "boolean": True,
        "no": False,
    }
    with scopes_disabled():
        stored = store_file(
            SimpleUploadedFile("id.pdf", factories.PDF),
            name="id.pdf",
            content_type="application/pdf",
        )
        apply_values(
            person,
            [NewValue(fields[key], value) for key, value in values.items()],
            source=Source.STAFF,
            user=owner,
        )
        document = new_document(person, fields["document"], stored)
        apply_values(
            person,
            [NewValue(fields["document"], str(document.uuid), document)],
            source=Source.STAFF,
            user=owner,
        )
        apply_values(firm, [NewValue(company_date, "1901-12-31")], source=Source.STAFF)
        FieldValue.objects.filter(field=fields["date"]).update(expires_on=dt.date(2031, 1, 15))
    factories.group(
        org,
        [fields["date"], fields["document"]],
        start_date=dt.date(2024, 1, 31),
        interval_count=2,
        interval_unit="weeks",
        spread_days=3,
        audience=[
            {"field": str(fields["number"].uuid), "op": "gt", "value": "1234.5"},
            {"field": str(fields["date"].uuid), "op": "before", "value": "2000-01-31"},
            {"field": str(fields["choice"].uuid), "op": "in", "value": ["Blue", "Red"]},
        ],
    )
    factories.group(
        org,
        [company_date],
        title="Company",
        applies_to="company",
        start_date=dt.date(2025, 11, 30),
        interval_count=6,
        interval_unit="months",
    )
    open_dossier = factories.dossier(org, person, list(fields.values()))
    return {"dossier": open_dossier, "portal": f"/d/{factories.token(open_dossier)}/"}


def snapshot() -> dict[str, Any]:
    """Every stored value of the tenant apps, but audit entries and bookkeeping."""
    rows: dict[str, Any] = {}
    with scopes_disabled():
        for label in APPS:
            for model in apps.get_app_config(label).get_models():
                # The log and its chain: what posting a form records, not a value it changes.
                if model in (AuditEntry, AuditSubject, AuditChain):
                    continue
                skip = BOOKKEEPING.get((label, model._meta.model_name), set())
                names = [
                    f.attname
                    for f in model._meta.concrete_fields
                    if f.attname not in skip and not getattr(f, "auto_now", False)
                ]
                rows[model._meta.label] = sorted(
                    map(repr, model.objects.order_by("pk").values_list(*names))
                )
        rows["answers"] = sorted(
            (item.pk, repr(item.answer if item.answered else item.initial_value))
            for item in DossierItem.objects.all()
        )
    return rows


def _sanitized(element: Any, value: str) -> str:
    """The value a browser keeps for a control (HTML's value sanitization algorithm)."""
    kind = (element.get("type") or "text").lower() if element.tag == "input" else element.tag
    if kind == "textarea" and value.startswith("\n"):
        # An HTML parser drops the newline that follows <textarea>; lxml keeps it.
        return value[1:]
    if kind == "date":
        # A date input holds a valid ISO date or nothing: 17/05/1990 is posted empty.
        try:
            return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else ""
        except ValueError:
            return ""
    if kind == "number":
        return value if re.fullmatch(r"-?(\d+|\d*\.\d+)([eE][-+]?\d+)?", value) else ""
    if kind in {"email", "tel", "text", "search", "url", "password"}:
        value = value.replace("\r", "").replace("\n", "")
        return value.strip() if kind in {"email", "url"} else value
    return value


def _browser_submission(form: Any) -> list[tuple[str, str]]:
    """What a browser sends for this form when Enter is pressed in it, untouched."""
    data = []
    controls = {id(e): e for e in form.xpath(".//input|.//select|.//textarea")}
    by_name: dict[str, list[Any]] = {}
    for element in controls.values():
        by_name.setdefault(element.get("name"), []).append(element)
    for name, value in form.form_values():
        element = by_name[name][0]
        data.append((name, _sanitized(element, value)))
    for button in form.xpath(".//button|.//input[@type='submit']"):
        if (button.get("type") or "submit") == "submit" and button.get("disabled") is None:
            if button.get("name"):
                data.append((button.get("name"), button.get("value", "")))
            break
    return data


def _required_left_empty(form: Any, data: list[tuple[str, str]]) -> bool:
    """A form that asks for something it does not hold yet (the pop-up's expiry date of a
    value without one): posted untouched, it is refused on that field and does nothing."""
    sent = dict(data)
    return any(
        not sent.get(element.get("name"), "").strip()
        for element in form.xpath(".//input[@required]|.//select[@required]")
    )


def _fillable(form: Any) -> bool:
    """A form with something to fill in, not a single action button."""
    return any(
        element.tag in {"select", "textarea"}
        or (element.get("type") or "text") not in {"hidden", "submit", "button"}
        for element in form.xpath(".//input|.//select|.//textarea")
    )


def _pages(client: Client, start: list[str], prefixes: tuple[str, ...]) -> Iterator[str]:
    """Every page reachable by links from `start`, within `prefixes`."""
    seen, queue = set(start), list(start)
    while queue:
        url = queue.pop(0)
        response = client.get(url, follow=True)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        if response.redirect_chain:
            url = urlsplit(response.redirect_chain[-1][0]).path
            if url in seen and url not in start:
                continue
            seen.add(url)
        yield url
        tree = lxml.html.fromstring(response.content)
        for href in tree.xpath("//a/@href"):
            target = urlsplit(urljoin(url, href))
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.path.startswith(prefixes) and link not in seen and "page=" not in link:
                seen.add(link)
                queue.append(link)


def _post(client: Client, url: str, form: Any, data: list[tuple[str, str]]) -> Any:
    action = urlsplit(urljoin(url, form.get("action") or url)).path
    payload: dict[str, list[str]] = {}
    for name, value in data:
        payload.setdefault(name, []).append(value)
    return client.post(action, payload)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_form_posted_back_untouched_changes_nothing(world, org, owner, language):
    client = Client()
    client.force_login(owner)
    client.cookies["django_language"] = language
    home = f"/o/{org.slug}/"
    pages = [*_pages(client, [home], (home,)), world["portal"]]
    posted = set()
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        tree = lxml.html.fromstring(response.content)
        for index, form in enumerate(tree.forms):
            action = form.get("action") or url
            if (form.method or "GET").upper() != "POST" or action.startswith(NOT_FORMS):
                continue
            if not _fillable(form):
                continue
            before = snapshot()
            data = _browser_submission(form)
            response = _post(client, url, form, data)
            target = urlsplit(urljoin(url, action)).path
            if not target.endswith(CREATE_FORMS) and not _required_left_empty(form, data):
                # An edit form saved untouched is accepted: an error there is a lost value too.
                assert response.status_code == 302, (url, index, response.status_code)
            assert response.status_code < 500, (url, index)
            assert snapshot() == before, f"posting the form {index} of {url} changed a value"
            posted.add(target)
            client.get(url)  # read the messages the save left, as the browser would
    names = {path.rstrip("/").rsplit("/", 1)[-1] for path in posted}
    assert {"values", "monitoring", "edit", "settings"} <= names, posted
    assert world["portal"] in posted
    # Every profile's values form and every value's "⋯" pop-up were reached.
    assert sum(path.endswith("/values/") for path in posted) >= 2
    assert sum(path.endswith("/edit/") and "/monitoring/" in path for path in posted) == 2
    assert sum(path.endswith("/monitoring/") and "/fields/" in path for path in posted) >= 11
