"""API errors become typed errors with plain-words explanations."""

from __future__ import annotations

from partner_portal.defender import errors as e


def test_forbidden_names_missing_permission() -> None:
    err = e.Forbidden(
        403,
        "Forbidden",
        "The application does not have any of the required application permissions "
        "(Alert.ReadWrite.All, Alert.Read.All) to access the resource.",
    )
    assert err.missing_permissions == ("Alert.ReadWrite.All", "Alert.Read.All")
    assert err.missing_permission == "Alert.ReadWrite.All, Alert.Read.All"
    assert "Alert.ReadWrite.All" in err.explanation
    plain = e.Forbidden(403, "Forbidden", "Access denied.")
    assert plain.missing_permission is None


def test_api_error_text() -> None:
    err = e.NotFound(404, "NotFound", "Alert abc not found")
    assert str(err) == "NotFound (HTTP 404, NotFound): Alert abc not found"
    assert e.TransportError(None, "ReadTimeout", "GET x").status is None
    assert e.Throttled(429, retry_after=3.0).retryable
