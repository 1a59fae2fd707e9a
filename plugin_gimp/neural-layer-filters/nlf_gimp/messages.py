"""Backend errors in words a person can act on (shown with ``Gimp.message``, returned to callers).

No ``gi`` here: unit-tested without GIMP.
"""

from __future__ import annotations

from nlf_client.errors import BackendError


def describe(exc: BackendError, filter_label: str, address: str) -> str:
    """One message for a failed run: what happened, the server's own words, and what to do."""
    code, text = exc.code, (exc.message or "").strip()
    if code == "UNAVAILABLE":
        where = "" if address in text else " at %s" % address
        return (
            "%s: cannot reach the Neural Layer Filters backend%s (%s). Start it with "
            "'python -m backend serve', or set its address in Filters > Neural Layer Filters > "
            "Settings." % (filter_label, where, text or "no answer")
        )
    if code == "FAILED_PRECONDITION":
        return "%s needs something installed first: %s" % (filter_label, text)
    if code == "INVALID_ARGUMENT":
        return "%s: %s" % (filter_label, text)
    if code == "NOT_FOUND":
        return (
            "%s: the backend does not know this filter (%s). Update the backend or the "
            "plug-in so both have the same filters." % (filter_label, text)
        )
    if code == "CANCELLED":
        return "%s was cancelled." % filter_label
    if code == "DEADLINE_EXCEEDED":
        return "%s: the backend did not answer in time (%s)." % (filter_label, text)
    if code == "RESOURCE_EXHAUSTED":
        return (
            "%s: the backend is busy or out of memory (%s). Try again later or on a smaller "
            "selection." % (filter_label, text)
        )
    if code == "UNAUTHENTICATED" or code == "PERMISSION_DENIED":
        return "%s: the backend refused the token (%s). Check the token in Settings." % (
            filter_label,
            text,
        )
    return "%s failed: %s: %s" % (filter_label, code, text)
