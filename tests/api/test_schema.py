"""The OpenAPI schema is valid and complete; its documentation page works offline, under CSP."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_operation_needs_a_key_and_documents_its_errors(schema):
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 20
    for path, method, operation in operations:
        assert operation["security"] == [{"apiKey": []}], (method, path)
        assert {"401", "403", "404"} & set(operation["responses"]), (method, path)
        assert "429" in operation["responses"], (method, path)
        if method in {"post", "patch", "put"}:
            bad = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
            assert bad.endswith("ErrorResponse400"), (method, path)
    components = schema["components"]["schemas"]
    validation = components["ProfilesCreateValidationError"]["properties"]
    assert set(validation) == {"type", "errors"}
    assert components["ErrorResponse429"]["properties"].keys() == {"type", "errors"}
    assert components["Error429"]["properties"].keys() == {"code", "detail", "attr"}


def test_the_schema_is_served(client: Client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/profiles/" in response.json()["paths"]


def test_the_documentation_page_uses_only_our_own_files(client: Client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page = response.content.decode()
    assert "<style" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(sources) >= 4
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
        else:
            assert client.get(source).status_code == 200, source
    script = client.get(next(s for s in sources if "script" in s))
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()
