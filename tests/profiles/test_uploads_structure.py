"""Documents are checked by their structure, not by their first bytes, at every door."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import struct
import zlib

import boto3
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfWriter

from dossiers.models import DossierItem
from dossiers.retention import expire_dossiers, purge_dossiers
from profiles import previews, uploads
from profiles.models import DataField, Document, FieldValue, PendingDeletion
from profiles.storage import preview_key
from profiles.uploads import check_upload
from tests import factories
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db

NINE_BYTES = b"%PDF-1.4\n"


def _name(field) -> str:
    return f"f_{field.uuid.hex}"


def _nine_bytes() -> SimpleUploadedFile:
    return SimpleUploadedFile("statement.pdf", NINE_BYTES, "application/pdf")


def _nothing_written() -> bool:
    with scopes_disabled():
        return not FieldValue.objects.exists() and not Document.objects.exists()


# Every door refuses the 9-byte "%PDF-1.4", with the message on the file's field.


def test_the_staff_values_form_refuses_a_pdf_header_alone(owner_client, org):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/", {_name(field): _nine_bytes()}
    )
    assert response.status_code == 200
    assert "could not be opened" in " ".join(response.context["form"].errors[_name(field)])
    assert _nothing_written()


@pytest.mark.parametrize("action", ["draft", "submit"])
def test_the_portal_refuses_a_pdf_header_alone(org, action):
    field = factories.field(org, "document")
    dossier = factories.dossier(org, factories.contact(org, language="en"), [field])
    response = Client().post(
        f"/d/{factories.token(dossier)}/", {_name(field): _nine_bytes(), "action": action}
    )
    assert response.status_code == 200
    assert "could not be opened" in " ".join(response.context["form"].errors[_name(field)])
    with scopes_disabled():
        assert not DossierItem.objects.get().upload
    assert _nothing_written()


def test_staff_answering_on_the_clients_behalf_cannot_send_a_pdf_header_alone(member_client, org):
    field = factories.field(org, "document")
    dossier = factories.dossier(org, factories.contact(org, language="en"), [field])
    portal = member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/link/")["Location"]
    response = member_client.post(portal, {_name(field): _nine_bytes(), "action": "submit"})
    assert response.status_code == 200
    assert "could not be opened" in " ".join(response.context["form"].errors[_name(field)])
    with scopes_disabled():
        assert not DossierItem.objects.get().upload
    assert _nothing_written()


def test_the_api_refuses_a_pdf_header_alone(org):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    response = client_for(issue(org)[1]).post(
        f"/api/v1/profiles/{profile.uuid}/documents/",
        {"field": str(field.uuid), "file": _nine_bytes()},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["attr"], e["code"]) for e in errors] == [("file", "unreadable")]
    assert "could not be opened" in errors[0]["detail"]
    assert _nothing_written()


# What each check accepts and refuses, file by file.


def _pdf(pages: int = 1, *, user_password: str | None = None, owner_password: str = "") -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    if user_password is not None or owner_password:
        writer.encrypt(user_password or "", owner_password or None, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _image(pillow_format: str, size: tuple[int, int] = (96, 64)) -> bytes:
    # Noise, so that the picture's data fills the file and cutting it loses some of it.
    noise = random.Random(size[0] * size[1]).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(out, pillow_format)
    return out.getvalue()


FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}
CONTENT_TYPES = {"pdf": "application/pdf", **{t: f"image/{t}" for t in FORMATS}}
SAMPLES = {"pdf": _pdf(3), **{t: _image(f) for t, f in FORMATS.items()}}


def _field() -> DataField:
    return DataField(type="document", accepted_types=list(CONTENT_TYPES), max_size_mb=10)


def _check(content: bytes, name: str = "upload") -> str:
    return check_upload(_field(), SimpleUploadedFile(name, content))


def _refusal(content: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        _check(content)
    return refused.value


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_a_whole_file_of_each_accepted_type_is_accepted_and_left_at_its_start(kind):
    upload = SimpleUploadedFile("upload", SAMPLES[kind])
    assert check_upload(_field(), upload) == CONTENT_TYPES[kind]
    assert upload.read() == SAMPLES[kind]


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_half_a_file_is_refused(kind):
    content = SAMPLES[kind]
    refusal = _refusal(content[: len(content) // 2])
    assert refusal.code == "unreadable"
    assert "damaged or incomplete" in refusal.messages[0]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_file_cut_anywhere_is_refused(data):
    kind = data.draw(st.sampled_from(list(SAMPLES)))
    content = SAMPLES[kind]
    # A PNG that lost only its closing chunk (12 bytes) still holds the whole picture,
    # and a PDF only the line end after its %%EOF: those are whole.
    cut = data.draw(st.integers(min_value=1, max_value=len(content) - 13))
    refusal = _refusal(content[:cut])
    assert refusal.code in {"unreadable", "bad_type"}


@settings(max_examples=40, deadline=None)
@given(
    header=st.sampled_from([SAMPLES[kind][:16] for kind in SAMPLES]),
    rest=st.binary(max_size=4096),
)
def test_a_right_header_on_anything_else_is_refused_without_an_error(header, rest):
    refusal = _refusal(header + rest)
    assert refusal.code in {"unreadable", "bad_type"}


def test_an_empty_file_is_refused():
    assert _refusal(b"").messages == ["The file is empty."]


def test_a_pdf_without_a_page_is_refused():
    assert _refusal(_pdf(0)).messages == ["This PDF has no pages."]


def test_a_pdf_that_needs_a_password_to_open_is_refused():
    refusal = _refusal(_pdf(user_password="secret", owner_password="boss"))
    assert refusal.code == "encrypted"
    assert refusal.messages == ["This PDF is password-protected: send it without a password."]


def test_a_pdf_that_opens_without_a_password_is_accepted_despite_its_restrictions():
    # Bank statements often come "secured": restricted printing or copying, yet every
    # reader opens them without asking, and so will the reviewer.
    assert _check(_pdf(owner_password="bank")) == "application/pdf"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that says how large it is and holds almost nothing: a bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (10_000, 6_000),  # above our limit, below Pillow's own warning (89 MP)
        (10_000, 10_000),  # where Pillow warns
        (20_000, 20_000),  # where Pillow refuses by itself
    ],
)
def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(width, height):
    refusal = _refusal(_png_header(width, height))
    assert refusal.code == "too_many_pixels"
    assert refusal.messages == [
        "This image is too large: at most 50 megapixels. Send a smaller copy."
    ]


@pytest.mark.parametrize("kind", list(FORMATS))
def test_the_pixel_limit_holds_for_every_image_type(kind, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PIXELS", 96 * 64 - 1)
    assert _refusal(SAMPLES[kind]).code == "too_many_pixels"


def test_a_file_must_decode_as_the_type_its_first_bytes_claim():
    # A PNG header on a JPEG's body: filetype says PNG, and Pillow is held to PNG.
    refusal = _refusal(SAMPLES["png"][:16] + SAMPLES["jpeg"])
    assert refusal.code == "unreadable"


def test_the_refusals_read_in_french(org):
    field = factories.field(org, "document")
    dossier = factories.dossier(org, factories.contact(org, language="fr"), [field])
    response = Client().post(
        f"/d/{factories.token(dossier)}/",
        {_name(field): SimpleUploadedFile("relevé.pdf", SAMPLES["pdf"][:300]), "action": "draft"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 200
    [message] = response.context["form"].errors[_name(field)]
    assert message.startswith("Ce PDF ne s") and "abîmé ou incomplet" in message


# A phone's HEIC photo: kept as sent, shown in review through a JPEG copy deleted with it.

HEIC = _image("HEIF", (320, 240))


def _heic() -> SimpleUploadedFile:
    return SimpleUploadedFile("IMG_0042.HEIC", HEIC, "image/heic")


NOW = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)


def _heic_sent(org, action: str) -> dict:
    """An update dossier with review on, to which the client sent a HEIC photo."""
    field = factories.field(org, "document", accepted_types=["pdf", "jpeg", "heic"])
    group = factories.group(org, [field], review_required=True)
    dossier = factories.dossier(
        org,
        factories.contact(org, language="en"),
        [field],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2027, 2, 28),
    )
    response = Client().post(
        f"/d/{factories.token(dossier)}/", {_name(field): _heic(), "action": action}
    )
    assert response.status_code == 302
    with scopes_disabled():
        item = DossierItem.objects.get()
    return {"field": field, "dossier": dossier, "item": item, "profile": dossier.profile}


@pytest.fixture
def heic_to_review(org):
    return _heic_sent(org, "submit")


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_heic_photo_is_kept_as_sent_with_a_jpeg_copy_beside_it(heic_to_review):
    item = heic_to_review["item"]
    assert item.upload_content_type == "image/heic" and item.upload_name == "IMG_0042.heic"
    with default_storage.open(item.upload.name) as stored:
        assert stored.read() == HEIC
    with default_storage.open(preview_key(item.upload.name)) as copy:
        preview = Image.open(copy)
        assert preview.format == "JPEG" and preview.size == (320, 240)


def test_a_photo_is_decoded_once_for_its_check_and_its_copy(org, monkeypatch):
    def decoded_again(*args, **kwargs):
        raise AssertionError("decoded a second time")

    monkeypatch.setattr(previews, "jpeg_preview", decoded_again)
    item = _heic_sent(org, "draft")["item"]
    assert default_storage.exists(preview_key(item.upload.name))


def test_the_review_shows_the_copy_and_downloads_the_original(member_client, org, heic_to_review):
    dossier, field = heic_to_review["dossier"], heic_to_review["field"]
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/items/{field.uuid.hex}/upload/"
    page = member_client.get(f"/o/{org.slug}/dossiers/{dossier.uuid}/")
    assert f'<img src="{url}?inline=1"' in page.text
    shown = member_client.get(url + "?inline=1")
    assert shown["Content-Type"] == "image/jpeg"
    assert shown["Content-Disposition"] == 'inline; filename="IMG_0042.jpg"'
    assert Image.open(io.BytesIO(_body(shown))).format == "JPEG"
    download = member_client.get(url)
    assert download["Content-Type"] == "image/heic"
    assert download["Content-Disposition"] == 'attachment; filename="IMG_0042.heic"'
    assert _body(download) == HEIC


def test_once_approved_the_profiles_document_has_the_same_copy(member_client, org, heic_to_review):
    dossier = heic_to_review["dossier"]
    factories.approve_all(member_client, f"/o/{org.slug}/dossiers/{dossier.uuid}/")
    with scopes_disabled():
        document = FieldValue.objects.select_related("document").get().document
    url = f"/o/{org.slug}/documents/{document.uuid}/"
    assert _body(member_client.get(url)) == HEIC
    shown = member_client.get(url + "?inline=1")
    assert shown["Content-Type"] == "image/jpeg"
    with default_storage.open(preview_key(document.file.name)) as copy:
        assert _body(shown) == copy.read()


def test_a_photo_sent_back_is_kept_with_its_copy_until_its_dossier_goes(
    member_client, org, heic_to_review, django_capture_on_commit_callbacks
):
    """Staff still see what they sent back (and can undo it); the purge takes the photo and
    its copy with the dossier."""
    dossier, item = heic_to_review["dossier"], heic_to_review["item"]
    keys = [item.upload.name, preview_key(item.upload.name)]
    assert all(default_storage.exists(key) for key in keys)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            f"/o/{org.slug}/dossiers/{dossier.uuid}/reject/",
            {"item": heic_to_review["field"].uuid.hex, "reason": "Blurred"},
        )
    assert response.status_code == 302
    assert all(default_storage.exists(key) for key in keys)
    later = timezone.now() + dt.timedelta(days=40)
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        expire_dossiers(now=later)
        assert purge_dossiers(now=later + dt.timedelta(days=40)) == 1
    assert not any(default_storage.exists(key) for key in keys)


def test_the_purge_deletes_an_unclaimed_photo_and_its_copy(
    org, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(NOW, tick=False)
    item = _heic_sent(org, "draft")["item"]
    keys = [item.upload.name, preview_key(item.upload.name)]
    assert all(default_storage.exists(key) for key in keys)
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        assert purge_dossiers(now=NOW + dt.timedelta(days=40)) == 1
    assert not any(default_storage.exists(key) for key in keys)


def test_the_erasure_deletes_the_photo_and_its_copy(owner_client, org, heic_to_review):
    factories.approve_all(owner_client, f"/o/{org.slug}/dossiers/{heic_to_review['dossier'].uuid}/")
    with scopes_disabled():
        key = Document.objects.get().file.name
    keys = [key, preview_key(key)]
    assert all(default_storage.exists(k) for k in keys)
    profile = heic_to_review["profile"]
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/privacy/erase/", {"confirm": "on"}
    )
    assert response.status_code == 302
    assert not any(default_storage.exists(k) for k in keys)


def test_when_the_copy_cannot_be_made_the_original_is_recorded_for_deletion(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    class Full:
        def save(self, name, content):
            raise OSError("disk full")

    # Full when the copy is stored, after the original was.
    monkeypatch.setattr(previews, "default_storage", Full())
    field = factories.field(org, "document", accepted_types=["heic"])
    dossier = factories.dossier(org, factories.contact(org, language="en"), [field])
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            f"/d/{factories.token(dossier)}/", {_name(field): _heic(), "action": "draft"}
        )
    assert "could not be stored" in response.text
    with scopes_disabled():
        assert not DossierItem.objects.get().upload
        assert not PendingDeletion.objects.exists()
    root = default_storage.path("documents")
    assert not os.path.exists(root) or os.listdir(root) == []


def test_a_photo_stored_without_a_copy_is_shown_converted_and_nothing_is_written(
    member_client, org
):
    # Stored before copies were made: converted for the page, not stored by a GET.
    field = factories.field(org, "document", accepted_types=["heic"])
    profile = factories.contact(org)
    key = default_storage.save("documents/legacy.heic", ContentFile(HEIC))
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=field,
            file=key,
            name="photo.heic",
            content_type="image/heic",
            size=len(HEIC),
        )
    shown = member_client.get(f"/o/{org.slug}/documents/{document.uuid}/?inline=1")
    assert shown["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(_body(shown))).size == (320, 240)
    assert os.listdir(default_storage.path("documents")) == ["legacy.heic"]


def test_on_s3_a_photo_its_copy_and_their_deletion(owner_client, org, s3_storage):
    bucket = boto3.client(
        "s3",
        endpoint_url=default_storage.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    field = factories.field(org, "document", accepted_types=["heic"])
    profile = factories.contact(org)
    owner_client.post(f"/o/{org.slug}/profiles/{profile.uuid}/values/", {_name(field): _heic()})
    with scopes_disabled():
        document = Document.objects.get()
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket=s3_storage)["Contents"]}
    assert keys == {document.file.name, preview_key(document.file.name)}
    shown = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/?inline=1")
    assert Image.open(io.BytesIO(_body(shown))).format == "JPEG"
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/privacy/erase/", {"confirm": "on"}
    )
    assert response.status_code == 302
    assert bucket.list_objects_v2(Bucket=s3_storage).get("KeyCount") == 0
