"""The committed schema.graphql is what the code exports: a drift fails here (and in CI)."""

from __future__ import annotations

from pathlib import Path

from api.cli import main
from api.schema import build_schema
from domain.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_matches_code() -> None:
    exported = build_schema(Settings()).as_str() + "\n"
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == exported, "schema.graphql drifted: run `yiwang export-schema`"


def test_export_schema_command_writes_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(out)]) == 0
    sdl = out.read_text(encoding="utf-8")
    for contract in (
        "interface Node",
        "centres(filter: CentreFilter",
        "units(filter: UnitFilter",
        "createUnit(input: CreateUnitInput!): UnitPayload!",
        "grantRole(input: RoleInput!): StaffPayload!",
        "totalCount: Int!",
    ):
        assert contract in sdl
