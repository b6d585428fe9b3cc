"""A real RFC 3161 time-stamping authority on 127.0.0.1: `openssl ts -reply` behind an HTTP handler.

The test CA (a root and a TSA certificate with the critical timeStamping usage) is made in the test
with the openssl program itself; each request is answered by running `openssl ts -reply` on it.
`FailingTSA` answers 500 until told to recover, for the retry tests.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OPENSSL = shutil.which("openssl")

TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_test
[ tsa_test ]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_alg = sha256
[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
"""


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@dataclass
class LoopbackCA:
    folder: Path

    @property
    def root_pem(self) -> Path:
        return self.folder / "root.pem"

    @staticmethod
    def create(folder: Path) -> LoopbackCA:
        """A root and a TSA certificate it signed, made with the openssl program."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "serial").write_text("01\n")
        (folder / "ts.cnf").write_text(TS_CONFIG.format(serial=folder / "serial"))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "30",
            "-subj",
            "/O=provenance tests/CN=test TSA root",
            "-config",
            "ts.cnf",
            "-extensions",
            "ca_ext",
            cwd=folder,
        )
        _openssl(
            "req",
            "-new",
            *ec,
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/O=provenance tests/CN=test TSA",
            cwd=folder,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            "tsa.pem",
            "-extfile",
            "ts.cnf",
            "-extensions",
            "tsa_ext",
            cwd=folder,
        )
        return LoopbackCA(folder)

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            _openssl(
                "ts",
                "-reply",
                "-config",
                "ts.cnf",
                "-queryfile",
                str(q),
                "-signer",
                "tsa.pem",
                "-inkey",
                "tsa.key",
                "-out",
                str(r),
                cwd=self.folder,
            )
            return r.read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.queries.append(query)
        if self.server.failing:
            self.send_error(500, "TSA down for maintenance")
            return
        body = self.server.ca.reply(query)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ca: LoopbackCA
    failing: bool
    queries: list[bytes]


class OpensslTSA:
    """`url` answers RFC 3161 queries with openssl; set `failing` to answer HTTP 500 instead."""

    def __init__(self, ca: LoopbackCA, *, failing: bool = False) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.ca, self._server.failing, self._server.queries = ca, failing, []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.ca = ca

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    @property
    def queries(self) -> list[bytes]:
        return self._server.queries

    @property
    def failing(self) -> bool:
        return self._server.failing

    @failing.setter
    def failing(self, value: bool) -> None:
        self._server.failing = value

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCA:
    if OPENSSL is None:
        pytest.skip("the openssl program is not installed (Debian: apt-get install openssl)")
    return LoopbackCA.create(tmp_path_factory.mktemp("tsa-ca"))


@pytest.fixture(scope="session")
def openssl_tsa(test_ca: LoopbackCA) -> Iterator[OpensslTSA]:
    tsa = OpensslTSA(test_ca)
    yield tsa
    tsa.stop()
