"""The e-mail services' webhooks, fed each service's documented payloads: what a delivery,
a bounce and a complaint do to the message, the address and the follow-up; and what a bad
signature, a replay, an unknown message or a hostile body do (nothing)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_scopes import scope, scopes_disabled

from dossiers.messages import RESEND, queue_link_messages
from monitoring import followup
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import UpdateRun
from outbox import selectors
from outbox.mail import send_due
from outbox.models import DeliveryEvent, FailingAddress, Message
from tests import factories
from tests.outbox import services
from tests.outbox.services import SECRET, SIGNING_KEY, ServiceBackend, auth

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(time_machine) -> None:
    time_machine.move_to(dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.UTC), tick=True)


TO = "jane@example.com"
SERVICES = ["amazon_ses", "postmark", "mailgun", "sendgrid", "brevo"]
MESSAGE_IDS = {
    "amazon_ses": services.SES_MESSAGE_ID,
    "postmark": services.POSTMARK_MESSAGE_ID,
    "mailgun": services.MAILGUN_MESSAGE_ID,
    "sendgrid": services.SENDGRID_MESSAGE_ID,
    "brevo": services.BREVO_MESSAGE_ID,
}

Payload = tuple[bytes, dict[str, str]]


def _json(data: Any) -> Payload:
    return json.dumps(data).encode(), {}


PAYLOADS: dict[str, dict[str, Callable[[str], Payload]]] = {
    "amazon_ses": {
        "hard": lambda to: services.sns(services.ses_bounce(to)),
        "soft": lambda to: services.sns(services.ses_bounce(to, "Transient"), "soft-1"),
        "complaint": lambda to: services.sns(services.ses_complaint(to), "complaint-1"),
        "delivered": lambda to: services.sns(services.ses_delivery(to), "delivery-1"),
    },
    "postmark": {
        "hard": lambda to: _json(services.postmark_bounce(to)),
        "soft": lambda to: _json(services.postmark_bounce(to, "SoftBounce", 77)),
        "complaint": lambda to: _json(services.postmark_complaint(to)),
        "delivered": lambda to: _json(services.postmark_delivery(to)),
    },
    "mailgun": {
        "hard": lambda to: _json(services.mailgun(services.mailgun_failed(to))),
        "soft": lambda to: _json(
            services.mailgun(services.mailgun_failed(to, "temporary"), token="b" * 50)
        ),
        "complaint": lambda to: _json(
            services.mailgun(services.mailgun_complained(to), token="c" * 50)
        ),
        "delivered": lambda to: _json(
            services.mailgun(
                {**services.mailgun_complained(to), "event": "delivered"}, token="d" * 50
            )
        ),
    },
    "sendgrid": {
        "hard": lambda to: _json([services.sendgrid_bounce(to)]),
        "soft": lambda to: _json(
            [{**services.sendgrid_bounce(to, "blocked"), "sg_event_id": "soft-1"}]
        ),
        "complaint": lambda to: _json([services.sendgrid_spamreport(to)]),
        "delivered": lambda to: _json([services.sendgrid_delivered(to)]),
    },
    "brevo": {
        "hard": lambda to: _json(
            services.brevo("hard_bounce", to, reason="server relayed but mailbox not found")
        ),
        "soft": lambda to: _json(services.brevo("soft_bounce", to, reason="mailbox full")),
        "complaint": lambda to: _json(services.brevo("spam", to)),
        "delivered": lambda to: _json(services.brevo("delivered", to)),
    },
}


@pytest.fixture
def use_service(settings) -> Callable[[str], None]:
    def use(service: str) -> None:
        settings.EMAIL_SERVICE = service
        settings.EMAIL_BACKEND = "tests.outbox.services.ServiceBackend"
        settings.ANYMAIL = {
            "WEBHOOK_SECRET": SECRET,
            "MAILGUN_API_KEY": "key-api-not-the-signing-key",
            "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
        }

    return use


def _post(service: str, payload: Payload, credentials: dict[str, str] | None = None) -> Any:
    body, headers = payload
    return Client().post(
        f"/email/events/{service}/",
        data=body,
        content_type="application/json",
        **(auth() if credentials is None else credentials),
        **headers,
    )


def _run_sent(org, service: str):
    """A group's run with one contact, its invitation sent through the service."""
    field = factories.field(org, "text", label="Address")
    person = factories.contact(org, first_name="Jane", last_name="Doe", email=TO)
    group = factories.group(org, [field])
    ServiceBackend.ids = [MESSAGE_IDS[service]]
    run_id = dispatch_group_now(group.pk, fan_out=False)
    open_run(run_id)
    send_due()  # unless the commit of a transactional test woke the drain already
    with scopes_disabled():
        run = UpdateRun.objects.get(pk=run_id)
        message = Message.objects.get(dossier_link__profile=person)
    assert message.status == Message.Status.SENT
    assert message.provider_id == MESSAGE_IDS[service]
    return group, run, person, message


def _state(message: Message) -> tuple[Any, ...]:
    with scopes_disabled():
        message.refresh_from_db()
        return (
            message.status,
            message.last_error,
            list(FailingAddress.objects.values_list("address", "reason")),
            list(DeliveryEvent.objects.values_list("kind", flat=True)),
        )


@pytest.mark.parametrize("service", SERVICES)
def test_a_hard_bounce_after_sent_makes_the_message_undeliverable_and_the_follow_up_counts_it(
    org, use_service, service
):
    use_service(service)
    group, run, _person, message = _run_sent(org, service)
    with scopes_disabled():
        assert followup.undeliverable(group, [run.period]) == {}

    response = _post(service, PAYLOADS[service]["hard"](TO))

    assert response.status_code == 200
    status, last_error, failing, kinds = _state(message)
    assert status == Message.Status.UNDELIVERABLE
    assert last_error.startswith("Bounced: the address does not exist")
    assert failing == [(TO, FailingAddress.Reason.BOUNCED)]
    assert kinds == [DeliveryEvent.Kind.HARD_BOUNCE]
    with scopes_disabled():
        assert followup.undeliverable(group, [run.period]) == {run.period: 1}
        assert followup.unreachable(group, run.period) == 1
    with scope(organization=org):
        assert selectors.failing_count(org.pk) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_a_complaint_stops_further_sending(org, use_service, service):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)

    assert _post(service, PAYLOADS[service]["complaint"](TO)).status_code == 200

    _status, _error, failing, kinds = _state(message)
    assert failing == [(TO, FailingAddress.Reason.COMPLAINED)]
    assert kinds == [DeliveryEvent.Kind.COMPLAINT]
    # Whatever asks to write to them again, nothing goes out.
    sent_before = len(mail.outbox)
    queue_link_messages([message.dossier_link.dossier_id], RESEND, again=True)
    assert send_due() == 0
    assert len(mail.outbox) == sent_before
    with scopes_disabled():
        again = Message.objects.get(kind=RESEND)
    assert again.status == Message.Status.UNDELIVERABLE
    assert again.last_error.startswith(f"Not sent: {TO} is failing")


@pytest.mark.parametrize("service", SERVICES)
def test_a_soft_bounce_or_a_delivery_is_recorded_and_changes_nothing_else(
    org, use_service, service
):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)

    assert _post(service, PAYLOADS[service]["soft"](TO)).status_code == 200
    assert _post(service, PAYLOADS[service]["delivered"](TO)).status_code == 200

    status, _error, failing, kinds = _state(message)
    assert status == Message.Status.SENT
    assert failing == []
    assert sorted(kinds) == [DeliveryEvent.Kind.DELIVERED, DeliveryEvent.Kind.SOFT_BOUNCE]


def _bad_credentials(service: str, payload: Payload) -> tuple[Payload, dict[str, str]]:
    """A request whose proof is wrong: the password, or Mailgun's signature by another key."""
    if service == "mailgun":
        body = json.loads(payload[0])
        forged = services.mailgun(body["event-data"], key="key-someone-else")
        return _json(forged), auth()
    return payload, auth("hooks:guessed")


@pytest.mark.parametrize("service", SERVICES)
def test_a_bad_signature_is_a_400_and_changes_nothing(org, use_service, service):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    before = _state(message)

    payload, credentials = _bad_credentials(service, PAYLOADS[service]["hard"](TO))
    assert _post(service, payload, credentials).status_code == 400
    assert _state(message) == before


@pytest.mark.parametrize("service", ["postmark", "mailgun", "sendgrid", "brevo"])
def test_a_post_without_credentials_is_refused(org, use_service, service):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    before = _state(message)

    assert _post(service, PAYLOADS[service]["hard"](TO), credentials={}).status_code == 400
    assert _state(message) == before


def test_amazon_sns_is_asked_for_its_credentials_first(org, use_service):
    """SNS sends basic authentication only once a 401 asked for it."""
    use_service("amazon_ses")
    _group, _run, _person, message = _run_sent(org, "amazon_ses")
    before = _state(message)

    response = _post("amazon_ses", PAYLOADS["amazon_ses"]["hard"](TO), credentials={})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert _state(message) == before


@pytest.mark.parametrize("service", SERVICES)
def test_an_event_of_an_unknown_message_is_acknowledged_and_changes_nothing(
    org, use_service, service
):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    with scopes_disabled():
        Message.objects.filter(pk=message.pk).update(provider_id="someone-elses-message")
    before = _state(message)

    assert _post(service, PAYLOADS[service]["hard"](TO)).status_code == 200
    assert _state(message) == before


@pytest.mark.parametrize("service", SERVICES)
def test_a_replayed_event_is_acknowledged_and_acts_once(org, use_service, service):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    complaint = PAYLOADS[service]["complaint"](TO)
    assert _post(service, complaint).status_code == 200
    # Staff decide to write to them again; the same report, delivered once more, is not news.
    with scopes_disabled():
        FailingAddress.objects.all().delete()

    assert _post(service, complaint).status_code == 200

    _status, _error, failing, kinds = _state(message)
    assert failing == []
    assert kinds == [DeliveryEvent.Kind.COMPLAINT]


HOSTILE: dict[str, list[bytes]] = {
    "amazon_ses": [
        b"",
        b"not json at all",
        b"[1, 2, 3]",
        b'{"Type": "Notification", "MessageId": "22b80b92", "Message": "not json"}',
        b'{"Type": "Notification", "MessageId": "22b80b92", "Message": "[\\"x\\"]"}',
        b'{"Type": "Notification", "MessageId": "22b80b92", "Message": 12}',
        b'{"Type": "Notification", "MessageId": "22b80b92", "Message": '
        b'"{\\"notificationType\\": \\"Bounce\\", \\"bounce\\": 5, \\"mail\\": []}"}',
    ],
    "postmark": [
        b"",
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"RecordType": "Bounce", "Type": ["HardBounce"], "MessageID": {"a": 1}}',
        b'{"RecordType": "Bounce", "Type": "HardBounce", "BouncedAt": 12}',
        b"\xff\xfe\x00garbage",
    ],
    "mailgun": [
        b"",
        b"not json at all",
        b"[1, 2, 3]",
        b'{"signature": "x", "event-data": []}',
        b'{"signature": {"timestamp": 1, "token": null, "signature": 5}}',
        b"\xff\xfe\x00garbage",
    ],
    "brevo": [
        b"",
        b"not json at all",
        b"[1, 2, 3]",
        b'{"items": []}',
        b'{"event": "hard_bounce", "message-id": ["x"], "ts_epoch": "soon"}',
        b"\xff\xfe\x00garbage",
    ],
    "sendgrid": [
        b"",
        b"not json at all",
        b'{"event": "bounce"}',
        b'[{"event": 5}]',
        b'[{"event": "bounce", "timestamp": "yesterday", "anymail_id": ["x"]}]',
        b"[1, 2, 3]",
        b"\xff\xfe\x00garbage",
    ],
}


@pytest.mark.parametrize(
    ("service", "body"),
    [(service, body) for service, bodies in HOSTILE.items() for body in bodies],
)
def test_a_hostile_body_is_refused_and_changes_nothing(org, use_service, service, body):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    before = _state(message)
    headers = {}
    if service == "amazon_ses":
        headers = {
            "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
            "HTTP_X_AMZ_SNS_MESSAGE_ID": "22b80b92",
        }

    response = _post(service, (body, headers))

    # Refused, or (an event of no type anyone knows) acknowledged and ignored; never a 500.
    assert response.status_code in (200, 400)
    assert _state(message) == before


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("body", [b"", b"not json", b"{", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_a_400(org, use_service, service, body):
    use_service(service)
    headers = {}
    if service == "amazon_ses":
        headers = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": "1"}
    assert _post(service, (body, headers)).status_code == 400


@pytest.mark.parametrize("service", SERVICES)
def test_a_huge_body_is_refused_before_it_is_read(org, use_service, service, settings):
    use_service(service)
    _group, _run, _person, message = _run_sent(org, service)
    before = _state(message)
    body = b'{"padding": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'

    response = _post(service, (body, {}))

    assert response.status_code in (400, 413)
    assert _state(message) == before


def test_a_batch_larger_than_an_anonymous_post_is_read(org, use_service):
    """SendGrid posts up to hundreds of kilobytes of events at once."""
    use_service("sendgrid")
    _group, _run, _person, message = _run_sent(org, "sendgrid")
    others = [
        {
            **services.sendgrid_delivered(f"n{i}@example.com"),
            "sg_event_id": f"e{i}",
            "anymail_id": f"x{i}",
        }
        for i in range(2500)
    ]
    body = json.dumps([*others, services.sendgrid_bounce(TO)]).encode()
    assert len(body) > 256 * 1024

    assert _post("sendgrid", (body, {})).status_code == 200
    assert _state(message)[0] == Message.Status.UNDELIVERABLE


def test_another_services_address_is_not_found_and_other_methods_are_not_allowed(org, use_service):
    use_service("postmark")
    assert _post("mailgun", PAYLOADS["mailgun"]["hard"](TO)).status_code == 404
    assert _post("smtp", _json({})).status_code == 404
    assert Client().get("/email/events/postmark/", **auth()).status_code == 405
    assert Client().head("/email/events/postmark/").status_code == 200


def test_without_a_service_there_is_no_webhook(org, settings):
    settings.EMAIL_SERVICE = ""
    assert _post("postmark", PAYLOADS["postmark"]["hard"](TO)).status_code == 404


def test_sendgrids_signed_events_are_checked_with_its_public_key(org, use_service, settings):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    use_service("sendgrid")
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": base64.b64encode(public).decode(),
    }
    _group, _run, _person, message = _run_sent(org, "sendgrid")
    before = _state(message)
    body, _headers = PAYLOADS["sendgrid"]["hard"](TO)
    timestamp = "1700000000"

    def signed(signature: bytes) -> dict[str, str]:
        return {
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
        }

    other = ec.generate_private_key(ec.SECP256R1())
    forged = other.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    assert _post("sendgrid", (body, signed(forged))).status_code == 400
    assert _state(message) == before

    genuine = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    assert _post("sendgrid", (body, signed(genuine))).status_code == 200
    assert _state(message)[0] == Message.Status.UNDELIVERABLE


@pytest.mark.django_db(transaction=True)
def test_with_the_database_unreachable_the_service_is_told_to_retry(org, use_service):
    """The database server refuses connections (a port where none listens): a 503, which
    every service retries, and nothing half-written once it is back."""
    from django.db import connection

    from tests.conftest import _free_port, need_service

    need_service(connection.vendor == "postgresql", "PostgreSQL")
    use_service("postmark")
    _group, _run, _person, message = _run_sent(org, "postmark")
    before = _state(message)
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(_free_port())
    try:
        response = _post("postmark", PAYLOADS["postmark"]["hard"](TO))
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503
    assert _state(message) == before
    # The service's retry, with the database back, is applied.
    assert _post("postmark", PAYLOADS["postmark"]["hard"](TO)).status_code == 200
    assert _state(message)[0] == Message.Status.UNDELIVERABLE
