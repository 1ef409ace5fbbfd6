"""The partner application's own identity: a client secret or a certificate.

:class:`AppCredentials` is what the partner registered in Entra ID. It hands MSAL its
credential (:meth:`AppCredentials.msal_credential`) and, for the few token requests the
portal sends itself, the form fields that authenticate the app
(:meth:`AppCredentials.client_auth_fields`): the secret, or a signed client assertion
(RS256, ``x5t`` the certificate's SHA-1 thumbprint, as Microsoft and MSAL use it).
:func:`certificate_thumbprint` computes that thumbprint from a PEM certificate.

Secrets and private keys never appear in ``repr``.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

__all__ = ["AppCredentials", "certificate_thumbprint", "check_private_key"]


@dataclass(frozen=True)
class AppCredentials:
    """The partner application's identity: a client secret or a certificate.

    For a certificate give the private key (PEM) and the certificate's SHA-1
    thumbprint (hex, as the app registration shows it); the public certificate is
    optional (it enables subject-name/issuer authentication).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    thumbprint: str | None = None
    public_certificate: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id is required")
        has_cert = bool(self.private_key_pem)
        if bool(self.client_secret) == has_cert:
            raise ValueError("give either a client secret or a certificate private key")
        if has_cert and not self.thumbprint:
            raise ValueError("a certificate credential needs its thumbprint")

    @classmethod
    def from_certificate_files(
        cls,
        client_id: str,
        private_key_file: str | os.PathLike[str],
        certificate_file: str | os.PathLike[str] | None = None,
        thumbprint: str | None = None,
    ) -> AppCredentials:
        """Read a PEM key (and certificate); the thumbprint is computed if not given."""
        key = Path(private_key_file).read_text()
        cert_pem = Path(certificate_file).read_text() if certificate_file else None
        if thumbprint is None:
            if cert_pem is None:
                raise ValueError("give the certificate file or its thumbprint")
            thumbprint = certificate_thumbprint(cert_pem)
        return cls(
            client_id=client_id,
            private_key_pem=key,
            thumbprint=thumbprint.replace(":", "").upper(),
            public_certificate=cert_pem,
        )

    @property
    def kind(self) -> Literal["secret", "certificate"]:
        return "secret" if self.client_secret else "certificate"

    def msal_credential(self) -> str | dict[str, str]:
        if self.client_secret:
            return self.client_secret
        assert self.private_key_pem and self.thumbprint
        credential = {"private_key": self.private_key_pem, "thumbprint": self.thumbprint}
        if self.public_certificate:
            credential["public_certificate"] = self.public_certificate
        return credential

    def client_auth_fields(self, token_endpoint: str) -> dict[str, str]:
        """Form fields that authenticate the app at ``token_endpoint`` (direct POSTs)."""
        if self.client_secret:
            return {"client_id": self.client_id, "client_secret": self.client_secret}
        assert self.private_key_pem and self.thumbprint
        now = int(time.time())
        # Same encoding as MSAL's own assertions (base64url, padding kept), so Microsoft
        # and the sandbox see one format whichever path signed in.
        x5t = base64.urlsafe_b64encode(bytes.fromhex(self.thumbprint)).decode()
        assertion = jwt.encode(
            {
                "aud": token_endpoint,
                "iss": self.client_id,
                "sub": self.client_id,
                "jti": str(uuid.uuid4()),
                "nbf": now,
                "iat": now,
                "exp": now + 600,
            },
            self.private_key_pem,
            algorithm="RS256",
            headers={"x5t": x5t},
        )
        return {
            "client_id": self.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }


def certificate_thumbprint(certificate_pem: str) -> str:
    """SHA-1 thumbprint (upper-case hex) of a PEM certificate, as Entra ID shows it."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (Entra's x5t is SHA-1)


def check_private_key(pem: str) -> None:
    """Fail early (``ValueError``) on a private key that cannot be read."""
    serialization.load_pem_private_key(pem.encode(), password=None)
