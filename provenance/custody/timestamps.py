"""RFC 3161 time-stamps: a TSA's signed word that a capture's files existed, unchanged, by a time.

A stamp is over a manifest of the capture's SHA-256s (the media, the platform's files, the page),
one ``<sha256>  <path>`` line per file in `sha256sum` format, with ``#`` lines naming the capture.
The manifest, the TSA's reply (the token), the certificates it carries (PEM) and what verifying it
found (JSON) are kept in ``<capture folder>/timestamps/`` and recorded in the catalog.  Nothing is
sent anywhere unless a TSA is configured (`timestamp.tsa_urls`, or `--tsa`); only the manifest's
SHA-256 leaves the machine, never a file or a URL.

Tokens are requested and read with rfc3161-client (its Rust core parses the DER strictly and checks
the CMS signature); the chain is anchored at a root from `timestamp.ca_files` when one matches,
else at a self-signed root the token carries, and the result says which.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cryptography.x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from .. import store
from ..catalog.custody import verification_json
from ..errors import BadInputError, UsageError
from ..models import Capture, Progress, utc_iso
from .models import Stamp, Verification

if TYPE_CHECKING:
    from ..pipeline.archive import Archive, OnEvent

STAMP_DIR = "timestamps"
MANIFEST_HEADER = "# provenance capture manifest 1"
MAX_REPLY_BYTES = 1 << 20  # a token with its chain is a few kB; a TSA sending more is not one
_SLUG = re.compile(r"[^a-z0-9]+")
_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")


def manifest_bytes(capture: Capture, entries: Sequence[tuple[str, str]]) -> bytes:
    """The text that is stamped: who the capture is, then every file's SHA-256 and path, sorted."""
    head = [
        MANIFEST_HEADER,
        f"# capture_id: {capture.capture_id}",
        f"# url: {_one_line(capture.url)}",
        f"# captured_at: {utc_iso(capture.captured_at)}",
    ]
    lines = [f"{sha}  {path}" for path, sha in sorted(set(entries))]
    return ("\n".join(head + lines) + "\n").encode("utf-8")


def manifest_entries(data: bytes) -> list[tuple[str, str]]:
    """(path, sha256) of each file line of a manifest; header lines are skipped."""
    found = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        if match := _LINE.match(line):
            found.append((match.group(2), match.group(1)))
    return found


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


def capture_entries(archive: Archive, capture: Capture) -> list[tuple[str, str]]:
    """(path relative to the archive, sha256) of the capture's media, side files and page files."""
    entries = []
    media = archive.catalog.get_media(capture.sha256 or "")
    if media is not None:
        entries.append((str(media.path), media.sha256))
    entries += [(f"{capture.folder}/{name}", sha) for name, sha in capture.files]
    entries += [
        (kept.path, kept.sha256 or "")
        for kept in archive.catalog.custody_files_of(capture.folder or "", "page")
    ]
    return entries


# -- asking a TSA -------------------------------------------------------------------------------------


def request_token(
    tsa_url: str,
    message: bytes,
    timeout_s: float,
    trusted_roots: Sequence[cryptography.x509.Certificate] = (),
) -> tuple[bytes, Verification]:
    """Ask one TSA to stamp the SHA-256 of ``message``; the reply's bytes and their verification
    (signature, imprint, nonce) before anything is kept.  Raises BadInputError when the TSA fails."""
    request = TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256).build()
    http = urllib.request.Request(
        tsa_url,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout_s) as response:
            reply = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise BadInputError(f"{tsa_url}: the TSA answered HTTP {exc.code}", kind="tsa_failed") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise BadInputError(f"{tsa_url}: the TSA cannot be reached ({reason})", kind="tsa_failed") from None
    if len(reply) > MAX_REPLY_BYTES:
        raise BadInputError(f"{tsa_url}: the reply is larger than a token can be", kind="tsa_failed")
    verification = verify_token(reply, message, trusted_roots, nonce=request.nonce)
    if not (verification.verified or unchecked(verification)):
        detail = verification.detail
        raise BadInputError(f"{tsa_url}: the TSA's reply does not verify ({detail})", kind="tsa_failed")
    return reply, verification


def _parse(reply: bytes) -> TimeStampResponse:
    try:
        return decode_timestamp_response(reply)
    except ValueError as exc:
        raise VerificationError(f"not an RFC 3161 reply ({str(exc)[:120]})") from None


def token_certificates(reply: bytes) -> list[cryptography.x509.Certificate]:
    """The certificates a reply carries, leaf (the signer) first."""
    response = _parse(reply)
    certs = [cryptography.x509.load_der_x509_certificate(der) for der in response.signed_data.certificates]
    signers = list(response.signed_data.signer_infos)
    signer = signers[0] if signers else None
    return sorted(
        certs,
        key=lambda c: not (signer and c.issuer == signer.issuer and c.serial_number == signer.serial_number),
    )


def _self_signed(cert: cryptography.x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, cryptography.exceptions.InvalidSignature):
        return False
    return True


_IMPRINT_HASHES = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}


def _imprint_matches(response: TimeStampResponse, message: bytes) -> bool:
    imprint = response.tst_info.message_imprint
    digest = _IMPRINT_HASHES.get(imprint.hash_algorithm.dotted_string)
    return digest is not None and digest(message).digest() == imprint.message


def verify_token(
    reply: bytes,
    message: bytes,
    trusted_roots: Sequence[cryptography.x509.Certificate],
    *,
    nonce: int | None = None,
) -> Verification:
    """Does the token in ``reply`` stamp exactly ``message``, signed by a certificate that chains to
    a root?  Roots of `timestamp.ca_files` are tried first, then a self-signed root the token carries
    (``root_trusted`` False).  When no root is known (many TSAs send only their own certificate) the
    imprint is still compared and the result says that the signature chain was not checked.  Never
    raises: a failure is a Verification with ``verified`` False and the reason."""
    now = datetime.now(UTC)
    try:
        response = _parse(reply)
        certs = token_certificates(reply)
    except VerificationError as exc:
        return Verification(False, str(exc), checked_at=now)
    info = response.tst_info
    facts = {
        "gen_time": info.gen_time.astimezone(UTC),
        "serial_number": str(info.serial_number),
        "tsa_name": _general_name(info),
        "policy": info.policy.dotted_string,
        "checked_at": now,
        "imprint_matches": _imprint_matches(response, message),
    }
    if not facts["imprint_matches"]:
        return Verification(
            False, "the token stamps other data: its imprint is not this manifest's hash", **facts
        )
    if nonce is not None and info.nonce != nonce:
        return Verification(False, "the reply answers another request: its nonce is not ours", **facts)
    carried_roots = [c for c in certs if _self_signed(c)]
    intermediates = [c for c in certs if not _self_signed(c)]
    failure = None
    for roots, trusted in ((list(trusted_roots), True), (carried_roots, False)):
        if not roots:
            continue
        builder = VerifierBuilder(nonce=nonce)
        for root in roots:
            builder = builder.add_root_certificate(root)
        for cert in intermediates:
            builder = builder.add_intermediate_certificate(cert)
        try:
            builder.build().verify_message(response, message)
        except VerificationError as exc:
            failure = failure or str(exc)
            continue
        root = _root_of(intermediates, roots)
        how = "a trusted root" if trusted else "a root the token carries (not in timestamp.ca_files)"
        detail = f"signature, certificate chain and imprint valid; chains to {how}"
        return Verification(True, detail, root_subject=root, root_trusted=trusted, **facts)
    if failure is None:
        failure = (
            "the imprint matches, but the signature chain was not checked: the TSA's root is not known here"
            " (add it to timestamp.ca_files)"
        )
    return Verification(False, failure, **facts)


def unchecked(verification: Verification) -> bool:
    """Only the root was missing: the imprint matches and nothing was found wrong."""
    return verification.imprint_matches and not verification.verified and "not checked" in verification.detail


def _general_name(info: object) -> str | None:
    name = getattr(info, "name", None)
    value = getattr(name, "value", None)
    if value is None:
        return None
    return value.rfc4514_string() if hasattr(value, "rfc4514_string") else str(value)


def _root_of(
    chain: Sequence[cryptography.x509.Certificate], roots: Sequence[cryptography.x509.Certificate]
) -> str:
    issuers = {c.issuer for c in chain}
    for root in roots:
        if root.subject in issuers:
            return root.subject.rfc4514_string()
    return roots[0].subject.rfc4514_string()


def load_roots(paths: Iterable[str]) -> list[cryptography.x509.Certificate]:
    roots = []
    for path in paths:
        try:
            roots += cryptography.x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(f"setting timestamp.ca_files: {path}: not a readable PEM file ({exc})") from None
    return roots


def chain_pem(reply: bytes) -> bytes:
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in token_certificates(reply))


# -- stamping captures --------------------------------------------------------------------------------


def tsa_slug(tsa_url: str) -> str:
    parts = urllib.parse.urlsplit(tsa_url)
    return (_SLUG.sub("-", f"{parts.hostname or 'tsa'}-{parts.port or ''}{parts.path}".lower()).strip("-"))[
        :48
    ]


def _check_urls(urls: Sequence[str]) -> None:
    for url in urls:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise UsageError(f"TSA {url!r}: not an http(s) URL")


def stamp_capture(archive: Archive, capture: Capture, tsa_url: str) -> Stamp:
    """Ask one TSA to stamp one capture's manifest; keep and record what it gave, or the failure."""
    opts = archive.settings.timestamp
    folder = capture.folder or ""
    attempted = datetime.now(UTC)
    manifest = manifest_bytes(capture, capture_entries(archive, capture))
    manifest_sha = store.sha256_bytes(manifest)
    try:
        reply, verification = request_token(tsa_url, manifest, opts.timeout_s, load_roots(opts.ca_files))
    except BadInputError as exc:
        stamp = Stamp(folder, capture.capture_id, tsa_url, "failed", attempted, error=exc.one_line())
        archive.catalog.record_stamp(stamp, [])
        return stamp
    base = f"{folder}/{STAMP_DIR}"
    name = f"{tsa_slug(tsa_url)}-{attempted:%Y%m%dT%H%M%S%fZ}"
    written = {
        "manifest": (f"{base}/manifest-{manifest_sha[:16]}.txt", manifest),
        "token": (f"{base}/{name}.tsr", reply),
        "chain": (f"{base}/{name}.chain.pem", chain_pem(reply)),
        "verification": (f"{base}/{name}.verification.json", _verification_bytes(verification)),
    }
    files = []
    for path, data in written.values():
        store.write_atomic(archive.root / path, data)
        files.append((path, store.sha256_bytes(data), len(data)))
    stamp = Stamp(
        folder,
        capture.capture_id,
        tsa_url,
        "stamped",
        attempted,
        manifest_path=written["manifest"][0],
        manifest_sha256=manifest_sha,
        token_path=written["token"][0],
        chain_path=written["chain"][0],
        verification_path=written["verification"][0],
        verification=verification,
    )
    archive.catalog.record_stamp(stamp, files)
    return stamp


def _verification_bytes(verification: Verification) -> bytes:
    return (json.dumps(verification_json(verification), indent=2, sort_keys=True) + "\n").encode("utf-8")


def stamp_captures(
    archive: Archive,
    *,
    tsa_urls: Sequence[str] | None = None,
    captures: Sequence[Capture] | None = None,
    on_event: OnEvent | None = None,
) -> list[Stamp]:
    """Stamp every capture (or those given) that a configured TSA has not stamped yet, TSA by TSA.

    A TSA that fails is recorded as a failed attempt and asked again on the next run; it never
    stops the others.  Without TSAs (none given, none configured) it is a usage error: nothing is
    ever sent to a default.
    """
    urls = list(tsa_urls or archive.settings.timestamp.tsa_urls)
    if not urls:
        raise UsageError(
            "no time-stamping authority configured",
            hint="give --tsa URL or set [timestamp] tsa_urls in provenance.toml",
        )
    _check_urls(urls)
    load_roots(archive.settings.timestamp.ca_files)  # a bad setting fails before any request
    done = archive.catalog.stamped_tsas()
    todo = [
        (capture, url)
        for capture in (captures if captures is not None else archive.catalog.all_captures())
        for url in urls
        if (capture.folder, url) not in done
    ]
    stamps = []
    for number, (capture, url) in enumerate(todo, start=1):
        stamps.append(stamp_capture(archive, capture, url))
        if on_event:
            on_event(Progress("timestamp", number, len(todo), capture.url))
    return stamps


def reverify(archive: Archive, stamp: Stamp) -> Verification:
    """Verify a kept token again over its kept manifest (what `check` and `verify-bag` do)."""
    try:
        reply = (archive.root / (stamp.token_path or "")).read_bytes()
        manifest = (archive.root / (stamp.manifest_path or "")).read_bytes()
    except OSError as exc:
        return Verification(False, f"cannot read the token or its manifest ({exc.strerror or exc})")
    trusted = load_roots(archive.settings.timestamp.ca_files)
    return verify_token(reply, manifest, trusted)
