"""Keys and certificates of the sandbox: its own CA, the HTTPS server certificate, the
partner app's certificate credential and the key that signs access tokens.

Everything is created once in the state folder and reused on later starts, because RSA
key generation is the slowest part of a first start and clients pin the CA file.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
APP_CERT = "app-cert.pem"
APP_KEY = "app-key.pem"
SIGNING_CERT = "signing-cert.pem"
SIGNING_KEY = "signing-key.pem"

_TEN_YEARS = dt.timedelta(days=3650)
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """The key usage extension allowing ``allowed`` and nothing else (``cryptography``
    asks for every usage by name, and refuses a name it does not know)."""
    return x509.KeyUsage(**(dict.fromkeys(_KEY_USAGES, False) | dict.fromkeys(allowed, True)))


@dataclass(frozen=True)
class SigningKey:
    """The token-signing key with the identifiers Entra ID publishes for it."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    kid: str
    x5t: str

    def jwk(self) -> dict[str, object]:
        """The public key as a JWKS entry shaped like Microsoft's."""
        numbers = self.private_key.public_key().public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": _b64url_int(numbers.n),
            "e": _b64url_int(numbers.e),
            "x5c": [base64.b64encode(der).decode()],
        }


@dataclass(frozen=True)
class AppCertificate:
    """The partner app's certificate credential, as registered in its app registration."""

    private_key_file: Path
    certificate_file: Path
    certificate: x509.Certificate
    thumbprint: str  # SHA-1, upper-case hex, as the Azure portal shows it
    thumbprint_sha256: str


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_thumbprint(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    """Base64url of a certificate fingerprint, the form JWT headers carry (x5t)."""
    return base64.urlsafe_b64encode(cert.fingerprint(algorithm)).rstrip(b"=").decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Private keys are readable by the owner only, even in a demo state folder.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Partner Portal Sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ensure_ca(state_dir: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_path, cert_path = state_dir / CA_KEY, state_dir / CA_CERT
    if key_path.exists() and cert_path.exists():
        return _load_key(key_path), _load_cert(cert_path)
    key = _new_key()
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Partner Portal Sandbox CA"))
        .issuer_name(_name("Partner Portal Sandbox CA"))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _TEN_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return key, cert


def _san_covers(cert: x509.Certificate, hosts: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = set(san.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    for host in hosts:
        try:
            if str(ipaddress.ip_address(host)) not in addresses:
                return False
        except ValueError:
            if host not in names:
                return False
    return True


def _ensure_server_cert(
    state_dir: Path, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, hosts: list[str]
) -> None:
    key_path, cert_path = state_dir / SERVER_KEY, state_dir / SERVER_CERT
    if key_path.exists() and cert_path.exists() and _san_covers(_load_cert(cert_path), hosts):
        return
    # Re-issue (keeping the CA) when a new --host is not covered yet.
    key = _load_key(key_path) if key_path.exists() else _new_key()
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = _now()
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage("digital_signature", "key_encipherment"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def _ensure_self_signed(key_path: Path, cert_path: Path, common_name: str) -> x509.Certificate:
    if key_path.exists() and cert_path.exists():
        return _load_cert(cert_path)
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert


@dataclass(frozen=True)
class Pki:
    """Paths and loaded material the server needs."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    app: AppCertificate
    signing: SigningKey


def ensure_pki(state_dir: Path, hosts: list[str]) -> Pki:
    """Create whatever is missing in ``state_dir`` and load everything."""
    # The folder holds private keys and, beside them, sandbox.json with a client secret.
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    ca_key, ca_cert = _ensure_ca(state_dir)
    _ensure_server_cert(state_dir, ca_key, ca_cert, hosts)

    app_cert = _ensure_self_signed(
        state_dir / APP_KEY, state_dir / APP_CERT, "Partner Portal app credential"
    )
    app = AppCertificate(
        private_key_file=state_dir / APP_KEY,
        certificate_file=state_dir / APP_CERT,
        certificate=app_cert,
        thumbprint=app_cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - x5t is SHA-1 by definition
        thumbprint_sha256=app_cert.fingerprint(hashes.SHA256()).hex().upper(),
    )

    signing_cert = _ensure_self_signed(
        state_dir / SIGNING_KEY, state_dir / SIGNING_CERT, "accounts.sandbox.local"
    )
    x5t = b64url_thumbprint(signing_cert, hashes.SHA1())  # noqa: S303 - x5t is SHA-1 by definition
    signing = SigningKey(
        private_key=_load_key(state_dir / SIGNING_KEY),
        certificate=signing_cert,
        kid=x5t,  # Entra ID uses the same value for kid and x5t
        x5t=x5t,
    )
    return Pki(
        ca_file=state_dir / CA_CERT,
        server_cert_file=state_dir / SERVER_CERT,
        server_key_file=state_dir / SERVER_KEY,
        app=app,
        signing=signing,
    )


def short_digest(*parts: str) -> str:
    """A stable short hex digest, for identifiers derived from other identifiers."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
