"""The Dockerfile and deploy/compose.yaml, checked without a container engine (none runs on the
CI machine): every file they copy or mount exists and is in the build context, the nodes run
migrated (`serve --no-upgrade` after a one-shot `db upgrade`) with the same secrets, and the
compose nginx configuration passes `nginx -t` with deploy/nginx's own snippets."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.nginx import link_snippets, nginx_binary

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _ignored(relative: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes
    )


def test_the_dockerfile_copies_what_the_context_has() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+?) (\S+)$", text, flags=re.MULTILINE)
    sources = [s for srcs, _ in copies for s in srcs.split()]
    assert "uv.lock" in sources and "hatch_build.py" in sources
    for source in sources:
        relative = source.rstrip("/")
        assert (ROOT / relative).exists(), source
        assert not _ignored(relative), f"{source} is excluded by .dockerignore"
    # What the web build must not receive from the host: it installs and builds its own.
    assert _ignored("web/node_modules") and _ignored("web/dist") and _ignored(".venv")
    # The runtime is the wheel's virtual environment, unprivileged, with a health check.
    assert "USER hushroom" in text
    assert "/readyz" in text
    assert "--require-hashes" in text


def test_compose_runs_two_migrated_nodes_behind_nginx() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "node1", "node2", "nginx"} <= services.keys()
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for node in ("node1", "node2"):
        service = services[node]
        assert service["command"] == ["serve", "--no-upgrade"]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        env = service["environment"]
        assert env["HUSHROOM_REDIS_URL"].startswith("redis://redis:")
        assert env["HUSHROOM_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "HUSHROOM_JWT_SECRET" in env and "HUSHROOM_AT_REST_KEY" in env
    for mount in services["nginx"]["volumes"]:
        source = mount.split(":")[0]
        assert (DEPLOY / source).is_file(), mount
    conf = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "server node1:8000" in conf and "server node2:8000" in conf


def test_the_compose_nginx_configuration_loads(tmp_path: Path) -> None:
    nginx = nginx_binary()
    conf_dir = tmp_path / "conf"
    (conf_dir / "conf.d").mkdir(parents=True)
    link_snippets(conf_dir)
    # The compose hostnames do not resolve here, and nginx writes only inside tmp_path.
    conf = (
        (DEPLOY / "compose" / "nginx.conf")
        .read_text()
        .replace("node1:8000", "127.0.0.1:9")
        .replace("node2:8000", "127.0.0.1:9")
        .replace("/var/cache/nginx/hushroom", str(tmp_path / "cache"))
        .replace("listen 8080", "listen 127.0.0.1:9")
        .replace("/etc/nginx/snippets/", "snippets/")
    )
    (conf_dir / "conf.d" / "default.conf").write_text(conf)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (conf_dir / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n access_log off;\n {temp}\n include conf.d/default.conf;\n}}\n"
    )
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf_dir / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
