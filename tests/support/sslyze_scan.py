"""Scan one TLS server with sslyze and print what the tests judge, as one JSON document.

Runs inside sslyze's own environment (tests/support/sslyze-requirements.txt, via `uv run
--no-project --with-requirements`), not the project's: it imports neither hushroom nor pytest.
tests/support/tls_scan.py starts it and classifies the findings.

    python sslyze_scan.py HOST PORT SERVER_NAME CA_FILE

Output: the accepted cipher suites per protocol version, the vulnerability checks, the curves,
the HSTS header, the commands that did not complete, and the verdict of sslyze's own check
against Mozilla's "intermediate" configuration (what `sslyze --mozilla_config=intermediate`
prints), with its list of issues.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

VERSIONS = {
    "SSLv2": "ssl_2_0_cipher_suites",
    "SSLv3": "ssl_3_0_cipher_suites",
    "TLSv1": "tls_1_0_cipher_suites",
    "TLSv1.1": "tls_1_1_cipher_suites",
    "TLSv1.2": "tls_1_2_cipher_suites",
    "TLSv1.3": "tls_1_3_cipher_suites",
}


def scan(host: str, port: int, server_name: str, ca_file: Path) -> dict[str, Any]:
    started = time.monotonic()
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=server_name, port=port, ip_address=host),
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=server_name),
        scan_commands={*SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER, ScanCommand.HTTP_HEADERS},
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = scanner.get_results()
    out: dict[str, Any] = {"scan_status": result.scan_status.value}
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        out["connectivity_error"] = str(result.connectivity_error_trace)
        return out
    attempts = result.scan_result
    assert attempts is not None
    out["incomplete"] = sorted(
        command.value
        for command in request.scan_commands
        if getattr(attempts, command.value).status != ScanCommandAttemptStatusEnum.COMPLETED
    )
    accepted: dict[str, list[str]] = {}
    key_exchange: dict[str, list[str]] = {}
    for version, field in VERSIONS.items():
        suites = getattr(attempts, field).result
        accepted[version] = sorted(s.cipher_suite.name for s in suites.accepted_cipher_suites)
        for suite in suites.accepted_cipher_suites:
            key = suite.ephemeral_key
            if key is not None:
                name = getattr(key, "curve_name", None) or f"DH-{key.size}"
                key_exchange.setdefault(version, []).append(f"{name}/{key.size}")
    out["accepted"] = accepted
    out["ephemeral_keys"] = {v: sorted(set(k)) for v, k in key_exchange.items()}
    out["heartbleed"] = attempts.heartbleed.result.is_vulnerable_to_heartbleed
    out["ccs_injection"] = attempts.openssl_ccs_injection.result.is_vulnerable_to_ccs_injection
    out["robot"] = attempts.robot.result.robot_result.name
    out["compression"] = attempts.tls_compression.result.supports_compression
    reneg = attempts.session_renegotiation.result
    out["secure_renegotiation"] = reneg.supports_secure_renegotiation
    out["client_renegotiation_dos"] = reneg.is_vulnerable_to_client_renegotiation_dos
    out["fallback_scsv"] = attempts.tls_fallback_scsv.result.supports_fallback_scsv
    out["extended_master_secret"] = (
        attempts.tls_extended_master_secret.result.supports_ems_extension
    )
    curves = attempts.elliptic_curves.result
    out["curves"] = sorted(c.name for c in curves.supported_curves or [])
    certs = attempts.certificate_info.result
    out["certificates"] = [
        {
            "subject": d.received_certificate_chain[0].subject.rfc4514_string(),
            "trusted": d.verified_certificate_chain is not None,
            "key": type(d.received_certificate_chain[0].public_key()).__name__,
            "signature": d.received_certificate_chain[0].signature_algorithm_oid._name,
        }
        for d in certs.certificate_deployments
    ]
    headers = attempts.http_headers
    hsts = None
    if headers.status == ScanCommandAttemptStatusEnum.COMPLETED and headers.result is not None:
        header = headers.result.strict_transport_security_header
        hsts = None if header is None else header.max_age
    out["hsts_max_age"] = hsts
    profile = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    try:
        check_server_against_tls_configuration(result, profile)
        out["mozilla_intermediate"] = {"compliant": True, "issues": {}}
    except ServerNotCompliantWithTlsConfiguration as e:
        out["mozilla_intermediate"] = {"compliant": False, "issues": e.issues}
    except ServerScanResultIncomplete as e:
        out["mozilla_intermediate"] = {"compliant": False, "issues": {"incomplete": str(e)}}
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def main() -> None:
    host, port, server_name, ca_file = sys.argv[1:5]
    json.dump(scan(host, int(port), server_name, Path(ca_file)), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
