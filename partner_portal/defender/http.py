"""HTTP sessions for talking to Microsoft (or the sandbox).

Two things the plain ``requests.Session`` gets wrong for this product:

* it has no default timeout, so one stuck connection can hang a worker forever;
* with ``trust_env`` on, ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` from the environment
  silently replace the session's ``verify``, so a configured CA file (the sandbox's) is
  ignored on machines that set them.

:func:`make_session` fixes both: every request gets a timeout unless the caller gives
one, and the environment is not consulted.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter

__all__ = ["DEFAULT_TIMEOUT", "Timeout", "TimeoutAdapter", "make_session"]

#: (connect, read) seconds. Microsoft answers quickly or not at all; a long read
#: timeout only delays the retry.
Timeout = float | tuple[float, float]
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)


class TimeoutAdapter(HTTPAdapter):
    """An adapter that applies a default timeout to requests that name none."""

    def __init__(
        self,
        timeout: Timeout = DEFAULT_TIMEOUT,
        *,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ) -> None:
        self.timeout = timeout
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def make_session(
    ca_file: str | None = None,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    proxies: Mapping[str, str] | None = None,
    pool_maxsize: int = 32,
) -> requests.Session:
    """A session that trusts ``ca_file`` (or the default store) and never waits forever.

    ``proxies`` must be given explicitly because the environment is not read.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file if ca_file else True
    if proxies:
        session.proxies.update(proxies)
    adapter = TimeoutAdapter(timeout, pool_connections=8, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "partner-portal"
    return session
