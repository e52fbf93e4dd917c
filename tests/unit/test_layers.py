"""The layers keep their rules (docs/architecture.md): a static read of every import.

- services never import the HTTP or WebSocket layers, nor SQLAlchemy (storage raises domain
  errors);
- storage never imports services, api or gateway;
- the crypto core imports only the standard library's pure modules, `cryptography`, `argon2`
  and itself: no sockets, files, clocks or databases.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "hushroom"

CRYPTO_ALLOWED = {
    "__future__",
    "base64",
    "binascii",
    "collections",
    "dataclasses",
    "enum",
    "hashlib",
    "hmac",
    "itertools",
    "json",  # message events are JSON (docs/crypto.md §8.7)
    "re",
    "types",  # MappingProxyType: read-only views of membership state
    "typing",
    "unicodedata",
    "cryptography",
    "argon2",
    "hushroom",
    "os",  # only os.urandom, checked below
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for path in _modules(package)
        for name, line in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("services", ("hushroom.api", "hushroom.gateway", "sqlalchemy", "fastapi", "starlette")),
        ("storage", ("hushroom.services", "hushroom.api", "hushroom.gateway")),
        ("crypto", ("hushroom.api", "hushroom.gateway", "hushroom.services", "hushroom.storage")),
    ],
)
def test_layer_does_not_import_what_it_must_not(package: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(package, forbidden) == []


def test_crypto_core_imports_nothing_with_io() -> None:
    bad = [
        f"{path.name}:{line} imports {name}"
        for path in _modules("crypto")
        for name, line in _imports(path)
        if name.split(".")[0] not in CRYPTO_ALLOWED
    ]
    assert bad == []
    # `os` is there for the CSPRNG only.
    for path in _modules("crypto"):
        text = path.read_text(encoding="utf-8")
        uses = (
            {part.split("(")[0] for part in text.split("os.")[1:]} if "import os" in text else set()
        )
        assert uses <= {"urandom"}, f"{path.name} uses os.{uses}"


def test_the_layer_check_sees_a_violation(tmp_path: Path) -> None:
    """The reader itself works: a module importing sqlalchemy is reported."""
    module = tmp_path / "bad.py"
    module.write_text("import sqlalchemy\nfrom hushroom.api import auth\n", encoding="utf-8")
    assert [name for name, _ in _imports(module)] == ["sqlalchemy", "hushroom.api"]
