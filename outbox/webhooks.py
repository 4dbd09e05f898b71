"""The e-mail service's webhook: its tracking events, checked by anymail, recorded by us.

One address per service, `/email/events/<service>/`, answering only for the service that
EMAIL_SERVICE names. anymail checks the request (basic authentication with
EMAIL_WEBHOOK_SECRET for every service; Mailgun's HMAC signature; SendGrid's ECDSA signature
when its key is given) and turns the service's payload into events; `outbox.events` applies
them in one transaction.

The answers are what the services expect: a refused check or a body we cannot read is a 400
and changes nothing; an event for a message we do not know, or one received before, is a 200
(a service disables a webhook that keeps failing); a database we cannot reach is a 503, which
the service retries. Never a 500.
"""

from __future__ import annotations

import logging
import warnings

from anymail.exceptions import AnymailNotSupportedWarning, AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.base import AnymailCoreWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from outbox import events

logger = logging.getLogger(__name__)

# anymail says on every request that it no longer tests SendGrid; its webhook code still
# reads SendGrid's documented events, which our tests feed it.
warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)

VIEWS: dict[str, type[AnymailCoreWebhookView]] = {
    "amazon_ses": AmazonSESTrackingWebhookView,
    "postmark": PostmarkTrackingWebhookView,
    "mailgun": MailgunTrackingWebhookView,
    "sendgrid": SendGridTrackingWebhookView,
    "brevo": BrevoTrackingWebhookView,
}

PATH_PREFIX = "/email/events/"


def is_event_post(request: HttpRequest) -> bool:
    """A service's batch of events may pass the anonymous body limit; Django's own
    (DATA_UPLOAD_MAX_MEMORY_SIZE) still bounds it."""
    return request.path_info.startswith(PATH_PREFIX)


@csrf_exempt
def tracking_events(request: HttpRequest, service: str) -> HttpResponse:
    if service != settings.EMAIL_SERVICE or service not in VIEWS:
        raise Http404
    if request.method == "HEAD":
        return HttpResponse()  # some services check the address this way
    if request.method != "POST":
        response = HttpResponse(status=405)
        response["Allow"] = "POST, HEAD"
        return response
    if service == "mailgun" and not settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        # anymail would check the signature against an empty key, which anyone can forge.
        logger.error("mailgun webhook refused: EMAIL_WEBHOOK_SIGNING_KEY is not set")
        return HttpResponse(status=400)
    view = VIEWS[service]()
    if (
        service == "amazon_ses"
        and getattr(view, "basic_auth", None)
        and not request.META.get("HTTP_AUTHORIZATION")
    ):
        # Amazon SNS sends its credentials only once asked for them by a 401.
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Basic realm="E-mail events"'
        return response
    try:
        view.run_validators(request)
        received = view.parse_events(request)
    except RequestDataTooBig:
        logger.warning("%s webhook: body over the size limit, refused", service)
        return HttpResponse(status=413)
    except AnymailWebhookValidationFailure as error:
        logger.warning("%s webhook refused: %s", service, error)
        return HttpResponse(status=400)
    except Exception as error:
        # Whatever anymail could not read (not JSON, wrong shapes, a missing key) is the
        # sender's fault, and nothing was changed yet.
        logger.warning(
            "%s webhook: unreadable body (%s: %s), refused",
            service,
            type(error).__name__,
            str(error)[:200],
        )
        return HttpResponse(status=400)
    try:
        with transaction.atomic():
            outcomes = [events.record(service, event) for event in received]
    except DatabaseError:
        logger.exception("%s webhook: database unavailable; the service will retry", service)
        return HttpResponse(status=503)
    except Exception:
        # Rolled back: nothing changed. Logged in full, as it is ours to look at.
        logger.exception("%s webhook: events not recorded", service)
        return HttpResponse(status=400)
    logger.info("%s webhook: %d events (%s)", service, len(outcomes), ", ".join(outcomes))
    return HttpResponse()
