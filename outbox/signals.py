"""What the outbox tells the apps above it, which it does not import."""

from django.dispatch import Signal

# Messages were given up as undeliverable (a permanent refusal, too many attempts, a bounce
# or a complaint): `organization_ids`, those of the messages that had one. Sent after the
# write, inside the caller's transaction if there is one.
messages_refused = Signal()
