"""``serving.tls_*`` are checked before a worker starts: one sentence naming the setting."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from driftloop.config import ServingSettings, Settings, load_settings
from driftloop.errors import ConfigError
from driftloop.serving.runtime import serve_url
from driftloop.serving.server import run
from driftloop.serving.tls import tls_options


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as files."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def make_pki(folder: Path, *, key_password: bytes | None = None) -> Pki:
    """A fresh CA signing a server and a client certificate, written as PEM under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftloop test CA")])
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server = _certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        ca_name,
        server_key.public_key(),
        ca_key,
        names=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    client = _certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "caller")]),
        ca_name,
        client_key.public_key(),
        ca_key,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    pki = Pki(*(folder / name for name in ("ca.pem", "cert.pem", "key.pem", "c.pem", "ck.pem")))
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pki.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    crypt = (
        serialization.BestAvailableEncryption(key_password)
        if key_password
        else serialization.NoEncryption()
    )
    pki.key.write_bytes(_pem_key(server_key, crypt))
    pki.client_key.write_bytes(_pem_key(client_key, serialization.NoEncryption()))
    return pki


def _pem_key(
    key: ec.EllipticCurvePrivateKey, crypt: serialization.KeySerializationEncryption
) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt)


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    names: list[x509.GeneralName] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        signing = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(signing, critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _refused(**fields: object) -> str:
    with pytest.raises(ConfigError) as raised:
        tls_options(ServingSettings.model_validate(fields))
    message = raised.value.message
    assert message.count(". ") == 0 and "\n" not in message  # one sentence
    return message


def test_without_tls_settings_there_are_no_options() -> None:
    assert tls_options(ServingSettings()) == {}


def test_a_valid_pair_becomes_uvicorns_options(pki: Pki) -> None:
    options = tls_options(ServingSettings(tls_certfile=pki.cert, tls_keyfile=pki.key))
    assert options == {"ssl_certfile": str(pki.cert), "ssl_keyfile": str(pki.key)}
    mutual = tls_options(
        ServingSettings(tls_certfile=pki.cert, tls_keyfile=pki.key, tls_ca_certs=pki.ca)
    )
    assert mutual["ssl_ca_certs"] == str(pki.ca)
    assert mutual["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_half_a_pair_is_refused_naming_the_missing_half(pki: Pki) -> None:
    assert "serving.tls_keyfile is unset" in _refused(tls_certfile=pki.cert)
    assert "serving.tls_certfile is unset" in _refused(tls_keyfile=pki.key)
    assert "serving.tls_ca_certs" in _refused(tls_ca_certs=pki.ca)


def test_missing_or_unreadable_files_are_refused_naming_the_setting(
    pki: Pki, tmp_path: Path
) -> None:
    gone = tmp_path / "gone.pem"
    message = _refused(tls_certfile=gone, tls_keyfile=pki.key)
    assert message.startswith(f"serving.tls_certfile {gone} cannot be read")
    message = _refused(tls_certfile=pki.cert, tls_keyfile=tmp_path)  # a folder
    assert message.startswith(f"serving.tls_keyfile {tmp_path} cannot be read")
    message = _refused(tls_certfile=pki.cert, tls_keyfile=pki.key, tls_ca_certs=gone)
    assert message.startswith(f"serving.tls_ca_certs {gone} cannot be read")


def test_a_key_of_another_certificate_or_no_pem_is_refused(pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other")
    message = _refused(tls_certfile=pki.cert, tls_keyfile=other.key)
    assert message == (
        f"serving.tls_keyfile {other.key} is not the private key of tls_certfile {pki.cert}"
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert "are not a PEM certificate" in _refused(tls_certfile=junk, tls_keyfile=pki.key)
    message = _refused(tls_certfile=pki.cert, tls_keyfile=pki.key, tls_ca_certs=junk)
    assert message.startswith(f"serving.tls_ca_certs {junk} is not a PEM CA bundle")


def test_an_encrypted_key_needs_its_password(tmp_path: Path) -> None:
    locked = make_pki(tmp_path / "locked", key_password=b"open-sesame")
    message = _refused(tls_certfile=locked.cert, tls_keyfile=locked.key)
    assert message == f"serving.tls_keyfile {locked.key} is encrypted: set tls_keyfile_password"
    wrong = _refused(tls_certfile=locked.cert, tls_keyfile=locked.key, tls_keyfile_password="nope")
    assert "are not a PEM certificate and its private key" in wrong
    options = tls_options(
        ServingSettings(
            tls_certfile=locked.cert,
            tls_keyfile=locked.key,
            tls_keyfile_password=SecretStr("open-sesame"),
        )
    )
    assert options["ssl_keyfile_password"] == "open-sesame"


def test_tls_does_not_stand_in_for_the_api_key_off_loopback(pki: Pki, home: Path) -> None:
    settings = load_settings()
    tls = {"tls_certfile": pki.cert, "tls_keyfile": pki.key, "endpoint": "churn"}
    serving = settings.serving.model_copy(update={"host": "0.0.0.0", **tls})
    with pytest.raises(ConfigError, match=r"not a loopback address.*api_key"):
        run(settings.model_copy(update={"serving": serving}))


def test_the_local_url_of_an_endpoint_with_a_certificate_is_https(pki: Pki) -> None:
    plain = Settings(serving=ServingSettings(host="0.0.0.0", port=8443))
    assert serve_url(plain) == "http://127.0.0.1:8443"
    tls = ServingSettings(host="0.0.0.0", port=8443, tls_certfile=pki.cert, tls_keyfile=pki.key)
    assert serve_url(Settings(serving=tls)) == "https://127.0.0.1:8443"
