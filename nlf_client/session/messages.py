"""What the plug-ins say: a failed call in words a person can act on, and the status line.

Every failure text ends with the gRPC code in brackets (``[UNAVAILABLE]``) for bug reports.
"""

from __future__ import annotations

from ..api import Status
from ..errors import BackendError
from .launch import SERVE_COMMAND


class UserError(Exception):
    """Something the person can fix in the editor (no layer, no selection…); shown as is."""


def describe(
    exc: BackendError, what: str, address: str, settings_place: str = "Settings", run: bool = False
) -> str:
    """One message for a failed call: what happened, the server's own words, and what to do.

    ``what``: the filter's label (or "Backend"); ``settings_place``: where the editor keeps the
    backend's address (e.g. "Filters > Neural Layer Filters > Settings"); ``run``: the call was
    a filter run, so the message says the image was left as it was.
    """
    code, text = exc.code, (exc.message or "").strip()
    if code == "CANCELLED":
        why = "" if text.lower() in ("", "cancelled") else " (%s)" % text
        return "Cancelled %s%s; nothing else was changed." % (what, why)
    if code == "UNAVAILABLE":
        where = "" if address in text else " at %s" % address
        body = (
            "cannot reach the Neural Layer Filters backend%s (%s). Start it with '%s', or set "
            "its address in %s." % (where, text or "no answer", SERVE_COMMAND, settings_place)
        )
    elif code == "FAILED_PRECONDITION":
        body = "needs something installed first: %s" % text
    elif code == "NOT_FOUND":
        body = (
            "the backend does not know this filter (%s). Update the backend or the plug-in so "
            "both have the same filters." % text
        )
    elif code == "DEADLINE_EXCEEDED":
        body = "the backend did not answer in time (%s)." % text
    elif code == "RESOURCE_EXHAUSTED":
        body = (
            "the backend is busy or out of memory (%s). Try again later or on a smaller "
            "selection." % text
        )
    elif code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        body = "the backend refused the token (%s). Check the token in %s." % (text, settings_place)
    else:
        body = text or "failed"
    return "%s: %s [%s]%s" % (what, body, code, " The image was not changed." if run else "")


def status_line(status: Status, filter_id: str = "") -> str:
    """Ready / busy, the device, and what a filter still needs with the command that fixes it."""
    head = "busy, %d job(s) queued" % status.queue_length if status.queue_length else "ready"
    text = "Backend %s (%s)" % (head, status.device_name or status.device)
    fs = status.filter_status(filter_id) if filter_id else None
    if fs is not None and not fs.ready:
        fixes = "; ".join("%s: run %s" % (m.what, m.command) for m in fs.missing)
        text += "\nThis filter needs %s" % fixes if fixes else "\nThis filter is not ready"
    return text
