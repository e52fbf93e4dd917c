"""Lint-style check (no database): new migrations only *expand* the schema.

Rolling upgrades (docs/operations.md § Upgrades) run release N and N+1 side by side on one
schema: the first N+1 node migrates while the N nodes keep serving (`hushroom serve
--no-upgrade`). So the `upgrade()` of a migration may only add — tables, nullable columns,
columns with a server default, non-unique indexes — and every drop, rename or type change
(the *contract* step) waits for the release after the code stopped using the object.

This reads the migration files (ast, not alembic) and fails on what release N could not run
against. It checks migrations after BASELINE, the last one written before the rule; a reviewed
exception goes in ALLOWED with the reason it is safe.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

VERSIONS = (
    Path(__file__).resolve().parents[2] / "src" / "hushroom" / "storage" / "migrations" / "versions"
)
BASELINE = 9  # 0001-0009 predate the rule

# (revision number, operation, object name) -> why it is accepted. An entry is either safe for
# one release of overlap, or a release whose upgrade notes say "no rolling upgrade: stop every
# node of the old release before the first new one migrates".
ALLOWED: dict[tuple[int, str, str], str] = {
    (10, "drop_index", "uq_conversations_room_name"): (
        "NOT rolling-safe, flagged for review: at-rest encryption moves room-name uniqueness "
        "to name_hash, which old nodes do not write; while an old node serves after 0010, two "
        "rooms can get one name. Upgrade to the release with 0010 with every old node stopped."
    ),
}

# Operations that take away something release N may still read or write.
CONTRACT_OPS = {
    "drop_table",
    "drop_column",
    "drop_constraint",
    "rename_table",
    "drop_table_comment",
}
RAW_SQL_CONTRACT = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|CONSTRAINT)|RENAME\s+(TO|COLUMN)|ALTER\s+COLUMN\s+\S+\s+"
    r"(SET\s+DATA\s+)?TYPE|SET\s+NOT\s+NULL)\b",
    re.IGNORECASE,
)


def _number(path: Path) -> int:
    return int(path.name.split("_", 1)[0])


def _migrations() -> list[Path]:
    return sorted(
        (p for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py") if _number(p) > BASELINE),
        key=_number,
    )


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _str_args(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _column_problem(column: ast.expr) -> str | None:
    """A `sa.Column(...)` added to an existing table that old code's INSERTs would break."""
    if not isinstance(column, ast.Call):
        return None
    not_null = _const(_kw(column, "nullable")) is False
    has_default = _kw(column, "server_default") is not None
    if not_null and not has_default:
        return "adds a NOT NULL column without a server_default (old INSERTs fail)"
    return None


def contract_steps(path: Path) -> list[tuple[str, str, str]]:
    """(operation, object name, problem) for each non-expanding step of `upgrade()`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    assert upgrade is not None, f"{path.name} has no upgrade()"
    found: list[tuple[str, str, str]] = []
    for node in ast.walk(upgrade):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        op_name = node.func.attr
        names = _str_args(node)
        name = names[0] if names else "?"
        if op_name in CONTRACT_OPS:
            found.append((op_name, name, "removes or renames what release N uses"))
        elif op_name == "drop_index":
            # Naming convention: unique indexes are `uq_*`. Dropping one lifts a rule that
            # release N relies on (it expects the IntegrityError); a plain index only costs speed.
            if name.startswith("uq_"):
                found.append((op_name, name, "drops a unique index release N relies on"))
        elif op_name == "alter_column":
            column = names[1] if len(names) > 1 else name
            if _kw(node, "new_column_name") is not None:
                found.append((op_name, column, "renames a column"))
            if _kw(node, "type_") is not None:
                found.append((op_name, column, "changes a column's type"))
            if _const(_kw(node, "nullable")) is False:
                found.append((op_name, column, "makes a column NOT NULL"))
        elif op_name == "add_column":
            column_arg = node.args[1] if len(node.args) > 1 else None
            problem = _column_problem(column_arg) if column_arg is not None else None
            if problem is not None:
                found.append((op_name, name, problem))
        elif op_name == "execute":
            for text in names:
                if RAW_SQL_CONTRACT.search(text):
                    found.append((op_name, text[:60], "raw SQL that drops, renames or retypes"))
    return found


def test_the_lint_sees_contract_steps(tmp_path: Path) -> None:
    """The checker itself: it flags each kind of contract step and passes pure additions."""
    sample = tmp_path / "0099_sample.py"
    sample.write_text(
        "def upgrade():\n"
        "    op.create_table('t', sa.Column('id', sa.Integer(), nullable=False))\n"
        "    op.add_column('a', sa.Column('ok', sa.Text(), nullable=True))\n"
        "    op.add_column('a', sa.Column('ok2', sa.Text(), nullable=False,"
        " server_default=''))\n"
        "    op.create_index('ix_a_ok', 'a', ['ok'])\n"
        "    op.drop_index('ix_a_old', table_name='a')\n"
        "    op.add_column('a', sa.Column('bad', sa.Text(), nullable=False))\n"
        "    op.drop_column('a', 'gone')\n"
        "    op.drop_index('uq_a_name', table_name='a')\n"
        "    with op.batch_alter_table('a') as batch_op:\n"
        "        batch_op.alter_column('x', new_column_name='y')\n"
        "        batch_op.alter_column('z', type_=sa.BigInteger())\n"
        "    op.execute('ALTER TABLE a RENAME COLUMN p TO q')\n"
        "def downgrade():\n"
        "    op.drop_table('t')\n"
    )
    assert sorted((o, n) for o, n, _ in contract_steps(sample)) == [
        ("add_column", "a"),
        ("alter_column", "x"),
        ("alter_column", "z"),
        ("drop_column", "a"),
        ("drop_index", "uq_a_name"),
        ("execute", "ALTER TABLE a RENAME COLUMN p TO q"),
    ]


@pytest.mark.parametrize("path", _migrations(), ids=lambda p: p.name)
def test_migrations_after_the_baseline_only_expand(path: Path) -> None:
    problems = [
        f"{op_name} {name}: {why}"
        for op_name, name, why in contract_steps(path)
        if (_number(path), op_name, name) not in ALLOWED
    ]
    assert not problems, (
        f"{path.name} is not backward compatible for one release (expand/contract, "
        f"docs/operations.md § Upgrades): {problems}. Move the step to a later release, or "
        "add a reviewed exception to ALLOWED."
    )
