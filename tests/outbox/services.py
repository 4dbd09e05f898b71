"""E-mail services as their webhooks speak: each one's documented payloads, and a sending
backend that answers with the message id the service would have given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, ClassVar

from anymail.backends.test import EmailBackend as AnymailTestBackend

SECRET = "hooks:7f3c9a1e5b"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


class ServiceBackend(AnymailTestBackend):
    """anymail's test backend, giving each message the next id of `ids` as the service would."""

    ids: ClassVar[list[str]] = []
    # Or the id for a recipient, whatever the order of sending.
    by_address: ClassVar[dict[str, str]] = {}

    def get_esp_message_id(self, message: Any) -> str:
        if message.to and message.to[0] in self.by_address:
            return self.by_address[message.to[0]]
        return self.ids.pop(0)


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


# Amazon SES, through an SNS notification (docs.aws.amazon.com/ses/latest/dg/
# notification-examples.html and docs.aws.amazon.com/sns/latest/dg/
# sns-message-and-json-formats.html).

SES_MESSAGE_ID = "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"


def _ses_mail(to: str) -> dict[str, Any]:
    return {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "no-reply@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "callerIdentity": "IAM_user_or_role_name",
        "messageId": SES_MESSAGE_ID,
        "destination": [to],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": "no-reply@example.com"}],
        "commonHeaders": {"from": ["no-reply@example.com"], "to": [to], "subject": "Update"},
    }


def ses_bounce(to: str, bounce_type: str = "Permanent") -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "reportingMTA": "dns; email.example.com",
            "bouncedRecipients": [
                {
                    "emailAddress": to,
                    "status": "5.1.1",
                    "action": "failed",
                    "diagnosticCode": f"smtp; 550 5.1.1 <{to}>... User unknown",
                }
            ],
            "bounceSubType": "General",
            "timestamp": "2016-01-27T14:59:38.237Z",
            "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
            "remoteMtaIp": "127.0.2.0",
        },
        "mail": _ses_mail(to),
    }


def ses_complaint(to: str) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": to}],
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2016-01-27T14:59:38.237Z",
            "timestamp": "2016-01-27T14:59:38.237Z",
            "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
        },
        "mail": _ses_mail(to),
    }


def ses_delivery(to: str) -> dict[str, Any]:
    return {
        "notificationType": "Delivery",
        "mail": _ses_mail(to),
        "delivery": {
            "timestamp": "2016-01-27T14:59:38.237Z",
            "processingTimeMillis": 546,
            "recipients": [to],
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "127.0.2.0",
        },
    }


def sns(
    ses_event: dict[str, Any], sns_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
) -> tuple[bytes, dict[str, str]]:
    envelope = {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:ses-events",
        "Message": json.dumps(ses_event),
        "Timestamp": "2016-01-27T14:59:38.237Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEw6JRNwm1LFQL4ICB0bnXrdB8ClRMTQFGBqwLpGbM78tJ4etTwC5zU7O3tS6tGpey3",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/"
        "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&"
        "SubscriptionArn=arn:aws:sns:us-west-2:123456789012:ses-events:c9135db0",
    }
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
        "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_id,
        "HTTP_X_AMZ_SNS_TOPIC_ARN": envelope["TopicArn"],
    }
    return json.dumps(envelope).encode(), headers


# Postmark (postmarkapp.com/developer/webhooks/bounce-webhook, spam-complaint-webhook,
# delivery-webhook).

POSTMARK_MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


def postmark_bounce(to: str, bounce_type: str = "HardBounce", event_id: int = 4323372036854775807):
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": event_id,
        "Type": bounce_type,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": POSTMARK_MESSAGE_ID,
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "Test bounce details",
        "Email": to,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
    }


def postmark_complaint(to: str) -> dict[str, Any]:
    return {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "Test",
        "MessageID": POSTMARK_MESSAGE_ID,
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "ServerID": 1234,
        "Description": "",
        "Details": "Test spam complaint details",
        "Email": to,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Test subject",
        "Content": "<Abuse report dump>",
    }


def postmark_delivery(to: str) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": POSTMARK_MESSAGE_ID,
        "Recipient": to,
        "Tag": "welcome-email",
        "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    }


# Mailgun (documentation.mailgun.com, "Webhooks": the JSON payloads, signed with the
# HTTP webhook signing key).

MAILGUN_MESSAGE_ID = "<20130503182626.18666.16540@sandboxf3a6c.mailgun.org>"


def mailgun(event_data: dict[str, Any], key: str = SIGNING_KEY, token: str = "") -> dict[str, Any]:
    timestamp = "1529006854"
    token = token or "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def _mailgun_message(to: str) -> dict[str, Any]:
    return {
        "headers": {
            "to": f"Alice <{to}>",
            "message-id": MAILGUN_MESSAGE_ID.strip("<>"),
            "from": "Bob <bob@sandboxf3a6c.mailgun.org>",
            "subject": "Test permanent_fail webhook",
        },
        "attachments": [],
        "size": 111,
    }


def mailgun_failed(to: str, severity: str = "permanent") -> dict[str, Any]:
    return {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1521233195.375624,
        "log-level": "error",
        "severity": severity,
        "reason": "bounce",
        "envelope": {
            "sender": "bob@sandboxf3a6c.mailgun.org",
            "transport": "smtp",
            "targets": to,
        },
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": False,
        },
        "delivery-status": {
            "attempt-no": 1,
            "message": "550 5.1.1 The email account that you tried to reach does not exist.",
            "code": 550,
            "description": "",
            "session-seconds": 0.4331989288330078,
        },
        "message": _mailgun_message(to),
        "recipient": to,
        "recipient-domain": to.split("@")[1],
        "storage": {
            "url": "https://se.api.mailgun.net/v3/domains/sandboxf3a6c.mailgun.org/"
            "messages/message_key",
            "key": "message_key",
        },
        "campaigns": [],
        "tags": ["my_tag_1", "my_tag_2"],
        "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    }


def mailgun_complained(to: str) -> dict[str, Any]:
    return {
        "event": "complained",
        "id": "-Agny091SquKnsrW2NEKUA",
        "timestamp": 1521233123.501324,
        "log-level": "warn",
        "envelope": {"sending-ip": "173.193.210.33"},
        "flags": {"is-test-mode": False},
        "message": _mailgun_message(to),
        "recipient": to,
        "campaigns": [],
        "tags": ["my_tag_1", "my_tag_2"],
        "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    }


# SendGrid (www.twilio.com/docs/sendgrid/for-developers/tracking-events/event: the event
# webhook's array; anymail's backend adds its message id as the custom argument anymail_id).

SENDGRID_MESSAGE_ID = "8a6b4b7e-5d5c-4ad3-9b61-2e4f6c0fd1a7"


def sendgrid_bounce(to: str, bounce_type: str = "bounce") -> dict[str, Any]:
    return {
        "email": to,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": bounce_type,
        "anymail_id": SENDGRID_MESSAGE_ID,
    }


def sendgrid_spamreport(to: str) -> dict[str, Any]:
    return {
        "email": to,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "spamreport",
        "category": "cat facts",
        "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "anymail_id": SENDGRID_MESSAGE_ID,
    }


def sendgrid_delivered(to: str) -> dict[str, Any]:
    return {
        "email": to,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "delivered",
        "category": "cat facts",
        "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "response": "250 OK",
        "anymail_id": SENDGRID_MESSAGE_ID,
    }


# Brevo (developers.brevo.com, "Transactional webhooks": one event per post).

BREVO_MESSAGE_ID = "<201798300811.5787683@smtp-relay.mailin.fr>"


def brevo(event: str, to: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "email": to,
        "id": 1,
        "date": "2020-10-09 00:00:00",
        "ts": 1604933619,
        "message-id": BREVO_MESSAGE_ID,
        "ts_event": 1604933654,
        "subject": "My first Transactional",
        # The documented example also carries "X-Mailin-custom", which Brevo sends only
        # for a message that set that header: ours do not (anymail would read it as JSON).
        "template_id": 22,
        "tag": '["transactionalTag"]',
        "sending_ip": "185.41.28.109",
        "ts_epoch": 1604933654000,
        "tags": ["myFirstTransactional"],
        **extra,
    }
