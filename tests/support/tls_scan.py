"""Test certificates (trustme) and the TLS scan (sslyze) of a listener, with what counts as a
high-severity finding.

sslyze 6.3.1 needs cryptography < 47 and the project pins >= 50, so it runs in an environment
of its own, pinned by tests/support/sslyze-requirements.txt (`uv run --no-project
--with-requirements`, cached by uv after the first run; needs PyPI only to fill that cache).
tests/support/sslyze_scan.py is the part that runs there.

High severity (any one fails the test):

- a protocol below TLS 1.2 accepted (SSL 2.0, SSL 3.0, TLS 1.0, TLS 1.1);
- an accepted TLS 1.2 suite outside Mozilla's "intermediate" list (so any NULL, anonymous,
  EXPORT, RC4, DES/3DES, CBC, static-RSA or CCM_8 suite), or a TLS 1.3 suite outside its three;
- an ephemeral key below 256-bit ECDH or 2048-bit DH;
- Heartbleed, OpenSSL CCS injection, ROBOT (weak or strong oracle), TLS compression (CRIME),
  no secure renegotiation, client-initiated renegotiation accepted (a CPU-exhaustion vector),
  no TLS_FALLBACK_SCSV, no Extended Master Secret;
- the certificate: not trusted through the test CA, an RSA key below 2048 bits, a signature
  outside Mozilla's list (SHA-1), a lifespan over 366 days;
- any other issue sslyze's own check against Mozilla's "intermediate" configuration reports
  (`sslyze --mozilla_config=intermediate`), except the deviations in `Allowed` below, each tied to
  its exact cause;
- a scan that did not complete every command (0 findings must mean "looked, found none").
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

from tests.support.server import TlsFiles

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "tests" / "support" / "sslyze-requirements.txt"
SCAN_SCRIPT = REPO / "tests" / "support" / "sslyze_scan.py"
# The name the test certificates are for (and the SNI the scanner sends); they cover 127.0.0.1 too.
SERVER_NAME = "localhost"
# Each scan takes a few seconds here; this bounds a hung one.
SCAN_TIMEOUT_S = 60.0
# The first run may have to download sslyze's environment (about 15 MB) into uv's cache.
SETUP_TIMEOUT_S = 300.0

# Mozilla "intermediate" (guidelines 5.7), IANA names.
INTERMEDIATE_TLS12 = frozenset(
    {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    }
)
INTERMEDIATE_TLS13 = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
MOZILLA_SIGNATURES = frozenset(
    {"sha256WithRSAEncryption", "ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512"}
)
# Groups stronger than the profile's (X25519, P-256, P-384): offering them is no weakness.
STRONGER_CURVES = frozenset({"X448", "secp521r1"})


@dataclass(frozen=True)
class Allowed:
    """Deviations from the Mozilla check that are not high severity, each for a stated cause."""

    # The Python listener: Python's `ssl` cannot restrict the key-exchange groups to a list, so
    # OpenSSL's defaults stay, which add only `STRONGER_CURVES` (hushroom/tls.py).
    stronger_curves: bool = False


def issue_certificates(directory: Path, key_type: trustme.KeyType) -> TlsFiles:
    """A trustme CA and a leaf for localhost and 127.0.0.1, valid 90 days (Mozilla's
    recommended lifespan; trustme's default runs from the year 2000)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(key_type=key_type)
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(
        SERVER_NAME,
        "127.0.0.1",
        not_before=now - datetime.timedelta(hours=1),
        not_after=now + datetime.timedelta(days=89),
        key_type=key_type,
    )
    files = TlsFiles(directory / "fullchain.pem", directory / "privkey.pem", directory / "ca.pem")
    with files.cert.open("wb") as f:
        for pem in leaf.cert_chain_pems:
            f.write(pem.bytes())
    leaf.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


def _uv() -> str:
    # `uv run` tells its children where it is; otherwise the one on PATH or the Makefile's.
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(REPO / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("uv is not installed: run `make install-py`")


def _sslyze_command(*args: str) -> list[str]:
    return [
        _uv(),
        "run",
        "--no-project",
        # The project's interpreter (nassl ships wheels for it), with sslyze's pins only.
        "--python",
        sys.executable,
        "--with-requirements",
        str(REQUIREMENTS),
        "--",
        "python",
        *args,
    ]


def prepare_sslyze() -> None:
    """Build (or find in uv's cache) sslyze's environment, outside any scan's time limit."""
    result = subprocess.run(
        _sslyze_command("-c", "import sslyze"),
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def scan(port: int, ca: Path, host: str = "127.0.0.1") -> dict[str, Any]:
    """sslyze's findings for the TLS listener at host:port (tests/support/sslyze_scan.py)."""
    result = subprocess.run(
        _sslyze_command(str(SCAN_SCRIPT), host, str(port), SERVER_NAME, str(ca)),
        capture_output=True,
        text=True,
        timeout=SCAN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    findings: dict[str, Any] = json.loads(result.stdout)
    assert findings["scan_status"] == "COMPLETED", findings
    return findings


def _critical_san(cert_file: Path) -> bool:
    leaf = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
    return leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def high_severity(findings: dict[str, Any], tls: TlsFiles, allowed: Allowed) -> list[str]:
    """The high-severity findings (module docstring); [] is a pass."""
    high: list[str] = []
    if findings["incomplete"]:
        high.append(f"scan commands did not complete: {findings['incomplete']}")
    accepted: dict[str, list[str]] = findings["accepted"]
    for version in ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1"):
        if accepted[version]:
            high.append(f"{version} accepted: {accepted[version]}")
    if outside := set(accepted["TLSv1.2"]) - INTERMEDIATE_TLS12:
        high.append(f"TLS 1.2 suites outside the intermediate profile: {sorted(outside)}")
    if outside := set(accepted["TLSv1.3"]) - INTERMEDIATE_TLS13:
        high.append(f"TLS 1.3 suites outside the intermediate profile: {sorted(outside)}")
    for version, keys in findings["ephemeral_keys"].items():
        for key in keys:
            name, bits = key.rsplit("/", 1)
            # OpenSSL reports X25519 as 253 bits (sslyze's checker adds 3).
            weak = int(bits) < 2048 if name.startswith("DH-") else int(bits) + 3 < 256
            if weak:
                high.append(f"weak ephemeral key {key} in {version}")
    checks = {
        "heartbleed": (True, "vulnerable to Heartbleed"),
        "ccs_injection": (True, "vulnerable to OpenSSL CCS injection"),
        "compression": (True, "TLS compression on (CRIME)"),
        "secure_renegotiation": (False, "no secure renegotiation"),
        "client_renegotiation_dos": (True, "client-initiated renegotiation accepted"),
        "fallback_scsv": (False, "no TLS_FALLBACK_SCSV"),
        "extended_master_secret": (False, "no Extended Master Secret"),
    }
    for key, (bad, message) in checks.items():
        if findings[key] is bad:
            high.append(message)
    if findings["robot"].startswith("VULNERABLE"):
        high.append(f"ROBOT: {findings['robot']}")
    for cert in findings["certificates"]:
        if cert["signature"] not in MOZILLA_SIGNATURES:
            high.append(f"certificate signature {cert['signature']}")
    issues = dict(findings["mozilla_intermediate"]["issues"])
    curves = issues.pop("tls_curves", None)
    if curves is not None:
        extra = set(findings["curves"]) - {"X25519", "secp256r1", "secp384r1"}
        if not (allowed.stronger_curves and extra <= STRONGER_CURVES):
            high.append(f"Mozilla intermediate: {curves}")
    path = issues.pop("certificate_path_validation", None)
    # trustme marks subjectAltName critical next to a non-empty subject, which cryptography's
    # verifier (sslyze's) refuses (RFC 5280 4.2.1.6) and OpenSSL accepts; the handshake tests
    # verify the chain through the CA. Any other cause stays high.
    if path is not None and not _critical_san(tls.cert):
        high.append(f"Mozilla intermediate: {path}")
    high += [f"Mozilla intermediate: {message}" for message in issues.values()]
    return high


def summary(findings: dict[str, Any]) -> str:
    """One line per fact, for the test's output (`pytest -s` or a failure)."""
    accepted = findings["accepted"]
    versions = [v for v, suites in accepted.items() if suites]
    moz = findings["mozilla_intermediate"]
    return "\n".join(
        (
            f"sslyze {findings['seconds']} s: protocols {versions}",
            f"  TLS 1.2 suites {accepted['TLSv1.2']}",
            f"  TLS 1.3 suites {accepted['TLSv1.3']}",
            f"  curves {findings['curves']}, ephemeral keys {findings['ephemeral_keys']}",
            f"  heartbleed={findings['heartbleed']} ccs={findings['ccs_injection']} "
            f"robot={findings['robot']} compression={findings['compression']} "
            f"secure_reneg={findings['secure_renegotiation']} "
            f"client_reneg={findings['client_renegotiation_dos']} "
            f"fallback_scsv={findings['fallback_scsv']} ems={findings['extended_master_secret']}",
            f"  certificates {findings['certificates']}",
            f"  HSTS max-age {findings['hsts_max_age']}",
            f"  Mozilla intermediate compliant={moz['compliant']} issues={moz['issues']}",
        )
    )
