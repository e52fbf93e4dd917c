"""The wheel installs like a Python service (docs/decisions/0009-packaging.md):

- it carries the built web client (`hushroom/web_dist`), so `hushroom serve` from a fresh
  virtual environment serves `/`, the hashed assets and `/readyz` with no Node.js and no repo;
- the base install is the SDK: `import hushroom.client` works without the `server` extra, and
  the `hushroom` command then says what to install instead of a traceback;
- building a wheel without `web/dist` fails with the command to run.

`make test-wheel` runs this after `make web-build` (HUSHROOM_REQUIRE_WHEEL_TEST=1: a missing
build fails); elsewhere it is skipped without `web/dist`. Versions come from uv.lock (as
constraints), so the install is what the lock tested, mostly from uv's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
# uv.lock's runtime versions (both parts of the install), as pip constraints.
EXPORT = ["--no-emit-project", "--all-extras", "--no-dev", "--format", "requirements-txt"]
# Run by the base install: the SDK imports, the server's dependencies are absent.
SDK_CHECK = """
import importlib.util, sys
import hushroom.client, hushroom.crypto.envelope
print(hushroom.client.HushroomClient.__name__)
print(hushroom.client.__file__.startswith(sys.prefix))
server = ("fastapi", "uvicorn", "sqlalchemy", "typer", "pydantic")
print([m for m in server if importlib.util.find_spec(m)])
"""


def _uv() -> str:
    # `uv run` tells its children where it is; otherwise the one on PATH or the Makefile's.
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("uv is not installed: run `make install-py`")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this test run's venv and settings: the installed wheel alone."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HUSHROOM_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    return {**env, **extra}


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=240, cwd=cwd, env=env or _clean_env()
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Built:
    wheel: Path
    constraints: Path


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def hushroom(self) -> Path:
        return self.path / "bin" / "hushroom"


def _venv_with(built: Built, where: Path, requirement: str) -> Venv:
    """A fresh virtual environment with `requirement` installed, at uv.lock's versions."""
    started = time.monotonic()
    venv = Venv(where)
    _run([_uv(), "venv", "-q", "--python", sys.executable, str(where)])
    pip = [_uv(), "pip", "install", "--python", str(venv.python), "-q"]
    _run([*pip, requirement, "--constraints", str(built.constraints)])
    sys.stderr.write(f"installed {requirement} in {time.monotonic() - started:.1f} s\n")
    return venv


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel, built from this checkout, and uv.lock's versions as constraints."""
    if not (WEB_DIST / "index.html").is_file():
        if os.environ.get("HUSHROOM_REQUIRE_WHEEL_TEST"):
            pytest.fail(f"{WEB_DIST} is not built: run `make web-build`")
        pytest.skip(f"{WEB_DIST} is not built (make web-build; make test-wheel runs this)")
    tmp = tmp_path_factory.mktemp("wheel")
    uv = _uv()
    started = time.monotonic()
    _run([uv, "build", "--wheel", "--out-dir", str(tmp / "dist"), str(ROOT)])
    (wheel,) = (tmp / "dist").glob("hushroom-*.whl")
    sys.stderr.write(f"wheel built in {time.monotonic() - started:.1f} s\n")
    constraints = tmp / "constraints.txt"
    exported = _run(
        [uv, "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", *EXPORT],
        cwd=ROOT,
    )
    constraints.write_text(exported)
    return Built(wheel=wheel, constraints=constraints)


def test_the_wheel_carries_the_web_client(built: Built) -> None:
    import zipfile

    with zipfile.ZipFile(built.wheel) as z:
        names = set(z.namelist())
    expected = {
        "hushroom/web_dist/" + p.relative_to(WEB_DIST).as_posix()
        for p in WEB_DIST.rglob("*")
        if p.is_file()
    }
    assert expected <= names
    assert "hushroom/storage/migrations/script.py.mako" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_base_install_is_the_sdk_without_the_server(built: Built, tmp_path: Path) -> None:
    venv = _venv_with(built, tmp_path / "venv", str(built.wheel))
    out = _run([str(venv.python), "-c", SDK_CHECK], cwd=tmp_path)
    assert out.split() == ["HushroomClient", "True", "[]"]

    r = subprocess.run(
        [str(venv.hushroom), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "pip install 'hushroom[server]'" in r.stderr


def test_hushroom_serve_from_the_wheel_serves_the_whole_product(
    built: Built, tmp_path: Path
) -> None:
    venv = _venv_with(built, tmp_path / "venv", f"hushroom[server] @ {built.wheel.as_uri()}")
    port = free_port()
    data = tmp_path / "data"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(venv.hushroom), "serve", "--host", "127.0.0.1", "--port", str(port)],
        # Not the repo: nothing here may find the checkout's web/dist or source.
        cwd=tmp_path,
        env=_clean_env(HUSHROOM_DATA_DIR=str(data), HUSHROOM_LOG_LEVEL="WARNING"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    ready = client.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.25)

            index = client.get("/", headers={"accept": "text/html"})
            assert index.status_code == 200
            assert index.text == (WEB_DIST / "index.html").read_text()
            assert index.headers["cache-control"] == "no-cache"

            assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)
            assert assets, index.text
            for path in assets:
                asset = client.get(path)
                assert asset.status_code == 200, path
                assert asset.content == (WEB_DIST / path.lstrip("/")).read_bytes()
                assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"

            # The SPA fallback: a client route gets index.html too.
            assert client.get("/login", headers={"accept": "text/html"}).text == index.text
        # The embedded SQLite database, migrated on start, in the data dir.
        assert (data / "hushroom.db").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    # uvicorn re-raises the signal after its graceful shutdown, hence -SIGTERM.
    assert proc.returncode in (0, -signal.SIGTERM), (tmp_path / "server.log").read_text()


def test_a_wheel_without_the_web_build_fails_clearly(tmp_path: Path) -> None:
    src = tmp_path / "src-tree"
    src.mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    r = subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(tmp_path / "out"), str(src)],
        capture_output=True,
        text=True,
        timeout=240,
        env=_clean_env(),
    )
    assert r.returncode != 0
    assert "web/dist/index.html is missing: run `make web-build`" in r.stderr
    assert not list(tmp_path.rglob("*.whl"))
