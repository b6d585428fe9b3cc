"""A time-stamping authority on 127.0.0.1, answered in Python: for the demo and for tests.

It makes its own root and TSA certificate (EC P-256, with the critical id-kp-timeStamping usage
RFC 3161 requires) and answers RFC 3161 requests over HTTP with DER it encodes itself: a TSTInfo
signed in a CMS SignedData with the signed attributes RFC 5816 asks for (content type, message
digest, ESS signing-certificate-v2).  It needs only the `cryptography` wheel, so the demo runs on a
machine without the `openssl` program.  Its root is trusted by no one: it shows the mechanics of a
stamp, never a time anyone else should rely on.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rfc3161_client import _rust as rfc3161_rust

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
POLICY = "1.3.6.1.4.1.99999.1"  # a private-arc policy id: "demo stamps, no assurance"
MAX_QUERY_BYTES = 64 << 10


# -- DER, only as much as a token needs ---------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER: a SET OF in the order of its encodings


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        while part := part >> 7:
            chunk.append(0x80 | (part & 0x7F))
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 + number, content)


def _gentime(when: datetime) -> bytes:
    return _tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _algorithm(oid: str) -> bytes:
    return _seq(_oid(oid))


# -- the authority --------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "provenance demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Authority:
    """A root certificate, a TSA certificate it issued, and the TSA's key."""

    root: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @staticmethod
    def create(valid_days: int = 30) -> Authority:
        now = datetime.now(UTC) - timedelta(minutes=5)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = (
            x509.CertificateBuilder()
            .subject_name(_name("loopback TSA root"))
            .issuer_name(_name("loopback TSA root"))
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(root_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("loopback TSA"))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        return Authority(root, certificate, key)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)

    def reply(self, query: bytes, serial: int, when: datetime | None = None) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq: granted, with the TSA certificate and root."""
        request = rfc3161_rust.parse_timestamp_request(query)
        imprint = request.message_imprint
        tst_info = _seq(
            _int(1),
            _oid(POLICY),
            _seq(_seq(_oid(imprint.hash_algorithm.dotted_string), b"\x05\x00"), _octets(imprint.message)),
            _int(serial),
            _gentime(when or datetime.now(UTC)),
            _seq(_int(1)),  # accuracy: one second
            *([_int(request.nonce)] if request.nonce is not None else []),
        )
        cert_der = self.certificate.public_bytes(Encoding.DER)
        ess_cert = _seq(_seq(_seq(_octets(hashlib.sha256(cert_der).digest()))))
        attributes = [
            _seq(_oid(OID_CONTENT_TYPE), _set(_oid(OID_TST_INFO))),
            _seq(_oid(OID_MESSAGE_DIGEST), _set(_octets(hashlib.sha256(tst_info).digest()))),
            _seq(_oid(OID_SIGNING_CERT_V2), _set(ess_cert)),
        ]
        signed_attrs = _set(*attributes)
        signature = self.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        issuer = self.certificate.issuer.public_bytes()
        signer_info = _seq(
            _int(1),
            _seq(issuer, _int(self.certificate.serial_number)),
            _algorithm(OID_SHA256),
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT: the same SET, retagged
            _algorithm(OID_ECDSA_SHA256),
            _octets(signature),
        )
        certificates = [cert_der, self.root.public_bytes(Encoding.DER)] if request.cert_req else []
        signed_data = _seq(
            _int(3),
            _set(_algorithm(OID_SHA256)),
            _seq(_oid(OID_TST_INFO), _explicit(0, _octets(tst_info))),
            *([_tlv(0xA0, b"".join(sorted(certificates)))] if certificates else []),
            _set(signer_info),
        )
        token = _seq(_oid(OID_SIGNED_DATA), _explicit(0, signed_data))
        return _seq(_seq(_int(0)), token)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_QUERY_BYTES:
            self.send_error(400, "a time-stamp query is expected")
            return
        query = self.rfile.read(length)
        try:
            body = self.server.authority.reply(query, next(self.server.serials))
        except ValueError:
            self.send_error(400, "not an RFC 3161 query")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    authority: Authority
    serials: Iterator[int]


@contextmanager
def serve(authority: Authority | None = None) -> Iterator[tuple[str, Authority]]:
    """A TSA on 127.0.0.1 (a free port) while the block runs; yields its URL and its authority."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.authority = authority or Authority.create()
    server.serials = itertools.count(1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", server.authority
    finally:
        server.shutdown()
        server.server_close()
