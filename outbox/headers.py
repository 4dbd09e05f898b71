"""Headers every outgoing e-mail carries, whatever sends it."""

from __future__ import annotations

# Every message is automatic: out-of-office and other robots answer none of them (RFC 3834;
# the second is Exchange's own). Delivery reports still come: they are how bounces are known.
AUTOMATIC_HEADERS = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "OOF, AutoReply",
}
