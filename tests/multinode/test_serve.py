"""`hushroom serve --workers N` and the shipped nginx configuration."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.multinode.conftest import REDIS_URL, START_TIMEOUT_S, _truncate, require_redis
from tests.multinode.helpers import clients, next_messages
from tests.support.nginx import DEPLOY_CONF, LOCATIONS, link_snippets, nginx_binary
from tests.support.server import free_port

pytestmark = pytest.mark.timeout(240)


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUSHROOM_")}
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hushroom.cli", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_workers_without_redis_are_refused(tmp_path: Path) -> None:
    env = serve_env(
        HUSHROOM_DATA_DIR=str(tmp_path),
        HUSHROOM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
    )
    result = subprocess.run(
        [sys.executable, "-m", "hushroom.cli", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "HUSHROOM_REDIS_URL" in result.stderr
    assert not (tmp_path / "db.sqlite").exists()  # refused before touching anything


async def test_two_workers_share_fanout_and_drain_on_sigterm(
    pg_database: str, tmp_path: Path
) -> None:
    require_redis()
    await asyncio.to_thread(_truncate, pg_database)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = serve_env(
        HUSHROOM_DATA_DIR=str(tmp_path),
        HUSHROOM_DATABASE_URL=pg_database,
        HUSHROOM_REDIS_URL=REDIS_URL,
        HUSHROOM_REDIS_PREFIX=f"hushroom-test:{secrets.token_hex(6)}:",
        HUSHROOM_PORT=str(port),
        HUSHROOM_ALLOWED_ORIGINS=json.dumps([base_url]),
    )
    log_path = tmp_path / "server.log"
    proc = spawn(["serve", "--workers", "2"], env, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = 0
        async with httpx.AsyncClient(timeout=2) as http:
            # Both workers: readiness is asked several times in a row.
            while ready < 10:
                assert proc.poll() is None, log_path.read_text()[-4000:]
                assert time.monotonic() < deadline, log_path.read_text()[-4000:]
                try:
                    ok = (await http.get(f"{base_url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                ready = ready + 1 if ok else 0
                await asyncio.sleep(0.05 if ok else 0.2)
        # Sockets land on either worker; every member still gets every message.
        names = [f"W{i}" for i in range(6)]
        async with clients(*((n, base_url) for n in names)) as people:
            room = await people[0].create_room("workers")
            for person in people[1:]:
                await person.join_room(room.id)
            for person in people:
                await person.connect()
                person.realtime.track(room.id)
            for person in people:
                await person.send(room.id, body=f"from {person.user_id}")
            for person in people:
                got = await next_messages(person.realtime, len(people), conversation_id=room.id)
                assert [m.seq for m in got] == list(range(1, len(people) + 1))
            proc.send_signal(signal.SIGTERM)
            returncode = await asyncio.to_thread(proc.wait, 30)
        assert returncode in (0, -signal.SIGTERM)
        text = log_path.read_text()
        assert text.count("Application shutdown complete") == 2, text[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_shipped_nginx_config_is_valid(tmp_path: Path) -> None:
    """`nginx -t` on deploy/nginx/hushroom.conf as shipped, with only the paths that point
    into /etc and /var rewritten into a temporary directory."""
    cert, key = _self_signed(tmp_path)
    text = DEPLOY_CONF.read_text()
    replacements = {
        "/etc/ssl/hushroom/fullchain.pem": str(cert),
        "/etc/ssl/hushroom/privkey.pem": str(key),
        "/etc/nginx/snippets/hushroom-locations.conf": str(LOCATIONS),
        "/var/cache/nginx/hushroom": str(tmp_path / "cache"),
    }
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    site = tmp_path / "hushroom.conf"
    site.write_text(text)
    link_snippets(tmp_path)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {site};\n}}\n"
    )
    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
