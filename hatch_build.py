"""Build hook: the wheel carries the built web client, so `pip install hushroom[server]` then
`hushroom serve` serves the whole product with no Node.js on the server.

- wheel: `web/dist` goes in as `hushroom/web_dist` (found by hushroom/api/web.py); the build
  fails, with the command to run, when there is no `web/dist/index.html`.
- editable install (`uv sync`, `make install`): nothing is copied; the server serves the
  repository's `web/dist` (which may not be built yet).
- sdist: `web/dist` is carried along when it exists, so a wheel built from the sdist has it.

docs/decisions/0009-packaging.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WEB_DIST = Path("web") / "dist"
WHEEL_PATH = "hushroom/web_dist"


class WebClientBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        dist = Path(self.root) / WEB_DIST
        built = (dist / "index.html").is_file()
        if self.target_name == "sdist":
            if built:
                build_data["force_include"][str(dist)] = WEB_DIST.as_posix()
            return
        if self.target_name != "wheel" or version == "editable":
            return
        if not built:
            raise RuntimeError(
                f"the wheel must contain the built web client, and {dist}/index.html is "
                "missing: run `make web-build` (or `cd web && npm ci && npm run build`) first"
            )
        build_data["force_include"][str(dist)] = WHEEL_PATH
