"""Where the server finds the web client (api/web.py): HUSHROOM_WEB_DIST, else the wheel's
`hushroom/web_dist`, else the checkout's `web/dist`, else none (the status page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hushroom.api import web

pytestmark = pytest.mark.packaging


def _build(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "index.html").write_text("<!doctype html>")
    return path


def test_the_wheels_copy_wins_over_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "site-packages" / "hushroom" / "web_dist"
    checkout = _build(tmp_path / "repo" / "web" / "dist")
    monkeypatch.setattr(web, "packaged_dist", lambda: packaged)
    monkeypatch.setattr(web, "default_dist", lambda: checkout)
    assert web.resolve_dist(None) == checkout.resolve()  # development: no wheel copy
    _build(packaged)
    assert web.resolve_dist(None) == packaged.resolve()
    configured = _build(tmp_path / "elsewhere")
    assert web.resolve_dist(configured) == configured.resolve()
    # A configured directory without a build is the status page, not a silent fallback.
    assert web.resolve_dist(tmp_path / "missing") is None


def test_the_packaged_copy_is_inside_the_package() -> None:
    assert web.packaged_dist() == Path(web.__file__).resolve().parents[1] / "web_dist"
