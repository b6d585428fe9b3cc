"""`archive --page`: the post's page kept as WARC records and a WACZ, with a screenshot."""

from __future__ import annotations

import io
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fakesite import FakeSite, page
from fakesite import fake_site as fake_site  # the fixture, used by name
from PIL import Image
from test_cli import json_lines, run
from warcio.archiveiterator import ArchiveIterator

from provenance import check_archive, open_archive
from provenance.custody import pages
from provenance.settings import PageSettings

CHROMIUM = Path("/usr/bin/chromium")
STYLE = b"body { background: #c33; color: white; font-size: 40px; }"


@pytest.fixture(scope="module")
def post(fake_site: FakeSite) -> str:
    """A post page with a stylesheet, a script, an image and the video (which must not be fetched)."""
    thumb = next(route for path, route in fake_site.routes.items() if path == "/media/thumb.jpg")
    fake_site.add_file("/static/site.css", STYLE, "text/css")
    fake_site.add_file("/static/app.js", b"document.title = document.title;", "application/javascript")
    fake_site.add_file("/static/poster.jpg", thumb.body, "image/jpeg")
    body = (
        '<link rel="stylesheet" href="/static/site.css"><script src="/static/app.js"></script>'
        '<p>Water rising in the old town.</p><img src="/static/poster.jpg" alt="poster">'
        '<video src="/media/clip.mp4" controls></video>'
    )
    return fake_site.add_page("/watch/with-page", page("Flood page", body))


def records(warc: Path) -> list:
    with warc.open("rb") as fh:
        return [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read(), r)
            for r in ArchiveIterator(fh)
        ]


def test_archive_keeps_the_page_as_the_server_sent_it(
    capsys, tmp_path: Path, fake_site: FakeSite, post: str
) -> None:
    root = tmp_path / "archive"
    code, out, err = run(capsys, "--archive", str(root), "archive", post, "--page", "--json")
    assert code == 0, err
    (row,) = json_lines(out)
    kept = row["page"]
    assert row["status"] == "archived" and kept["http_status"] == 200 and kept["final_url"] == post
    assert kept["resources"] == 3  # style, script, image; the video is archived as media, not here

    found = records(root / kept["warc_path"])
    kinds = [(kind, uri) for kind, uri, _, _ in found]
    assert kinds[0][0] == "warcinfo"
    assert ("request", post) in kinds and ("response", post) in kinds
    for path in ("/static/site.css", "/static/app.js", "/static/poster.jpg"):
        assert ("response", fake_site.url(path)) in kinds
    assert not any(uri and uri.endswith("/media/clip.mp4") for _, uri in kinds)
    served = next(body for kind, uri, body, _ in found if kind == "response" and uri == post)
    assert served == fake_site.routes["/watch/with-page"].body  # the bytes the server sent
    css = next(r for kind, uri, _, r in found if kind == "response" and uri.endswith("site.css"))
    assert (
        css.http_headers.get_statuscode() == "200"
        and css.http_headers.get_header("Content-Type") == "text/css"
    )

    assert pages.validate_wacz(root / kept["wacz_path"])  # `wacz validate`, the package's own check
    with open_archive(root, mode="inspect") as archive:
        report = check_archive(archive)
        assert report.clean and {k.path for k in archive.catalog.kept_files()} >= {
            kept["warc_path"],
            kept["wacz_path"],
        }

    if not CHROMIUM.exists():
        assert kept["screenshot_path"] is None and any("not installed" in n for n in kept["notes"])
        pytest.skip("headless Chromium is not installed: the screenshot was skipped with a note")
    with Image.open(root / kept["screenshot_path"]) as shot:
        assert shot.size == (1280, 1600)
        rgb = np.asarray(shot.convert("RGB")).astype(int)
    red = int(((rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).sum())
    assert red > 0.5 * 1280 * 1600, "the screenshot does not show the page's own style"


def test_without_chromium_the_page_is_kept_and_a_note_says_so(
    capsys, tmp_path: Path, fake_site: FakeSite, post: str, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("PROVENANCE_PAGE_CHROMIUM", str(tmp_path / "no-chromium"))
    code, out, _err = run(capsys, "--archive", str(tmp_path / "a"), "archive", post, "--page", "--json")
    (row,) = json_lines(out)
    assert code == 0 and row["page"]["screenshot_path"] is None and row["page"]["wacz_path"]
    assert any("no screenshot" in note for note in row["page"]["notes"])
    assert any("no screenshot" in r.getMessage() for r in caplog.records)  # a warning on stderr


def test_a_hostile_page_is_bounded(fake_site: FakeSite) -> None:
    for n in range(6):
        fake_site.add_file(f"/many/{n}.png", b"\x89PNG" + bytes(2000), "image/png")
    fake_site.add_file("/many/huge.js", b"x" * 50_000, "application/javascript")
    body = '<script src="/many/huge.js"></script>' + "".join(f'<img src="/many/{n}.png">' for n in range(6))
    url = fake_site.add_page("/watch/many", page("Many", body))
    opts = PageSettings(max_resources=4, max_resource_bytes=10_000, timeout_s=5.0)
    fetched = pages.fetch_page(url, opts, "test")
    assert len(fetched.exchanges) == 1 + 4  # the page and four subresources
    assert any("3 of 7 subresources left out" in n for n in fetched.notes)
    assert any("huge.js: cut at 10000 bytes" in n for n in fetched.notes)
    huge = next(e for e in fetched.exchanges if e.url.endswith("huge.js"))
    assert huge.truncated and len(huge.body) == 10_000


def _tls_site(tmp_path: Path, body: bytes) -> tuple[ThreadingHTTPServer, Path, str]:
    """An https server on 127.0.0.1 with a certificate from a root made here."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "page test root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    (tmp_path / "root.pem").write_bytes(pem(root))
    (tmp_path / "server.pem").write_bytes(pem(leaf))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    site = FakeSite()
    site.add_page("/secure", body.decode())
    server = site._server
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, tmp_path / "root.pem", f"https://127.0.0.1:{server.server_address[1]}/secure"


def test_an_https_page_keeps_the_server_certificate_chain(tmp_path: Path) -> None:
    server, root_pem, url = _tls_site(tmp_path, page("Secure", "<p>over TLS</p>").encode())
    try:
        with pytest.raises(Exception, match="could not be fetched"):  # an unknown root is refused
            pages.fetch_page(url, PageSettings(timeout_s=5.0), "test")
        fetched = pages.fetch_page(url, PageSettings(timeout_s=5.0, ca_file=str(root_pem)), "test")
    finally:
        server.shutdown()
        server.server_close()
    assert pages.tls_subjects(fetched.page) == ("CN=127.0.0.1", "CN=page test root")
    warc = tmp_path / "page.warc.gz"
    pages.write_warc(fetched, warc, "test")
    found = records(warc)
    (meta,) = [(body, r) for kind, _, body, r in found if kind == "metadata"]
    assert meta[1].rec_headers.get_header("Content-Type") == "application/pem-certificate-chain"
    chain = x509.load_pem_x509_certificates(meta[0])
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=127.0.0.1", "CN=page test root"]
    response = next(r for kind, _, _, r in found if kind == "response")
    assert meta[1].rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )
    assert io.BytesIO  # warcio reads the gzip members back: the file is a valid WARC
