"""The web client's checked-in OpenAPI document (web/openapi.json) matches the live spec.

Its types (web/src/api/schema.gen.ts) are generated from it with `npm run gen:api`; when this
fails, refresh both:

    uv run python -c "import json; from hushroom.app import create_app; \
print(json.dumps(create_app().openapi()))" > web/openapi.json
    (cd web && npm run gen:api)
"""

from __future__ import annotations

import json
from pathlib import Path

from hushroom.app import create_app
from hushroom.config import Settings

CHECKED_IN = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_web_openapi_json_is_fresh(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
        data_dir=tmp_path / "data",
        jwt_secret="test-secret-" + "x" * 40,  # type: ignore[arg-type]
    )
    live = create_app(settings).openapi()
    assert CHECKED_IN.is_file(), "web/openapi.json is missing (see this module's docstring)"
    checked_in = json.loads(CHECKED_IN.read_text())
    assert checked_in == live, (
        "web/openapi.json is stale: regenerate it (see this module's docstring)"
    )
