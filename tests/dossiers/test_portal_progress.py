"""The portal's progress line, the phone camera beside a document's input, the thank-you."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_of_four(org):
    job = factories.field(org, "text", label="Job title")
    city = factories.field(org, "text", label="City")
    proof = factories.field(org, "document", label="Proof of address")
    contract = factories.field(org, "document", label="Contract", accepted_types=["pdf"])
    profile = factories.contact(org, language="en", first_name="Claire", last_name="Martin")
    with scopes_disabled():
        apply_values(profile, [NewValue(job, "Baker")], source="staff")
    dossier = factories.dossier(org, profile, [job, city, proof, contract])
    names = {f.label: f"f_{f.uuid.hex}" for f in (job, city, proof, contract)}
    return {"dossier": dossier, "link": f"/d/{factories.token(dossier)}/", "names": names}


def _answered(page) -> str:
    return re.search(r'<p id="answered-text">([^<]*)</p>', page.text).group(1)


def test_the_page_says_how_much_is_answered(client, request_of_four):
    link, names = request_of_four["link"], request_of_four["names"]
    page = client.get(link)
    assert _answered(page) == "Answered: 1 of 4"  # the job title on file
    assert '<progress max="4" value="1"' in page.text
    png = SimpleUploadedFile("proof.png", factories.PNG, "image/png")
    client.post(
        link, {names["Job title"]: "Baker", names["City"]: "Lyon", names["Proof of address"]: png}
    )
    assert _answered(client.get(link)) == "Answered: 3 of 4"


def test_the_progress_is_said_in_french(client, request_of_four):
    client.cookies["django_language"] = "fr"
    assert _answered(client.get(request_of_four["link"])) == "Réponses : 1 sur 4"


def test_a_document_field_offers_the_camera_beside_the_file_input(client, request_of_four):
    page = client.get(request_of_four["link"])
    names = request_of_four["names"]
    proof, contract = names["Proof of address"], names["Contract"]
    inputs = re.findall(r'<input type="file" name="(\w+)"[^>]*>', page.text)
    assert inputs.count(proof) == 2  # the file chooser and the camera, one field
    assert inputs.count(contract) == 1  # a PDF-only field: a photo would be refused
    camera = re.search(rf'<input type="file" name="{proof}"[^>]*capture[^>]*>', page.text).group(0)
    assert 'accept="image/*"' in camera and 'capture="environment"' in camera
    assert f'<label for="id_{proof}_camera">Take a photo</label>' in page.text


def test_a_photo_from_the_camera_input_is_the_answer(client, org, request_of_four):
    link, names = request_of_four["link"], request_of_four["names"]
    photo = SimpleUploadedFile("photo.png", factories.PNG, "image/png")
    # What a browser posts: an empty file chooser is not sent, the camera's photo is.
    response = client.post(
        link,
        {
            names["Job title"]: "Pilot",
            names["City"]: "Lyon",
            names["Proof of address"]: photo,
            names["Contract"]: SimpleUploadedFile("c.pdf", factories.PDF, "application/pdf"),
            "action": "submit",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        proof = FieldValue.objects.get(field__label="Proof of address")
        assert proof.document.name == "photo.png"


def test_when_both_inputs_hold_a_file_the_photo_is_the_answer(client, org, request_of_four):
    link, names = request_of_four["link"], request_of_four["names"]
    chosen = SimpleUploadedFile("scan.pdf", factories.PDF, "application/pdf")
    photo = SimpleUploadedFile("photo.png", factories.PNG, "image/png")
    client.post(link, {names["Proof of address"]: [chosen, photo], "action": "draft"})
    with scopes_disabled():
        from dossiers.models import DossierItem

        item = DossierItem.objects.get(field__label="Proof of address")
        assert item.upload_name == "photo.png"


def test_the_thank_you_page_says_thanks_once(client, org):
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org, language="fr"), [field])
    link = f"/d/{factories.token(dossier)}/"
    response = client.post(link, {f"f_{field.uuid.hex}": "x", "action": "submit"}, follow=True)
    text = re.sub(r"<[^>]+>", " ", response.text.split("<main")[1])
    assert text.count("Merci") == 1
    assert "vos réponses ont été envoyées" in text
