"""The client's address: the connection's, or the TLS proxy's last X-Forwarded-For entry."""

from __future__ import annotations

from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from partner_portal.core.http import client_ip

PROXY = "10.0.0.2"


def _request(remote: str, forwarded: str | None = None) -> HttpRequest:
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@override_settings(BEHIND_TLS_PROXY=False)
def test_served_directly_a_forwarded_header_is_not_believed() -> None:
    assert client_ip(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"


@override_settings(BEHIND_TLS_PROXY=True)
def test_behind_the_proxy_the_address_it_appended_counts() -> None:
    # The browser forged the first entry; the proxy appended the real peer.
    request = _request(PROXY, "203.0.113.9, 198.51.100.7")
    assert client_ip(request) == "198.51.100.7"
    assert client_ip(_request(PROXY, " 2001:db8::1 ")) == "2001:db8::1"


@override_settings(BEHIND_TLS_PROXY=True)
def test_behind_the_proxy_a_missing_header_falls_back_and_garbage_is_no_address() -> None:
    assert client_ip(_request(PROXY)) == PROXY
    assert client_ip(_request(PROXY, "not-an-address")) is None
