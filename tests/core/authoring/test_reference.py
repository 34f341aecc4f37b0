"""docs/REFERENCE.md is generated from the code, is deterministic and is never stale."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, model_validator

from payments_platform.core import LogRetentionDays, PluginSettings, keys
from payments_platform.core.authoring.reference import (
    REGENERATE,
    _facades,
    documented_types,
    render_reference,
    repository_plugins,
    settings_section,
    undescribed,
)
from payments_platform.core.context import AwsAccount, PluginContext
from payments_platform.core.host import policy
from payments_platform.core.host.plugin_manager import discover_plugins, hook_names
from payments_platform.core.host.settings_schema import settings_fields
from payments_platform.core.keys import Function
from payments_platform.core.naming import MAX_LENGTH, Naming
from payments_platform.core.roles import Role, Statement

from cli_runner import run_cli

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "REFERENCE.md"


@pytest.fixture(scope="module")
def reference() -> str:
    return render_reference()


def test_committed_reference_matches_the_code(reference):
    assert REFERENCE.read_text(encoding="utf-8") == reference, f"docs/REFERENCE.md is stale: run `{REGENERATE}`"


def test_reference_is_the_same_on_every_run(reference):
    assert render_reference() == reference


@pytest.mark.parametrize("hook", hook_names())
def test_reference_documents_every_hook(reference, hook):
    assert f"### `{hook}(" in reference


@pytest.mark.parametrize(
    ("attribute", "facade"), _facades(PluginContext), ids=lambda item: getattr(item, "__name__", item)
)
def test_reference_documents_every_public_method_of_every_ctx_facade(reference, attribute, facade):
    methods = [name for name, member in vars(facade).items() if callable(member) and not name.startswith("_")]
    assert methods and all(f"- `ctx.{attribute}.{name}(" in reference for name in methods)


def test_reference_shows_keyword_only_arguments_as_python_does(reference):
    assert "- `ctx.roles.grant(role: str | Role | Function, *, sid: str," in reference


@pytest.mark.parametrize("key", keys.WELL_KNOWN_KEYS, ids=lambda key: key.name)
def test_reference_documents_every_context_key_and_its_value_type(reference, key):
    assert f"| `{key.name}` |" in reference and f"### {key.type.__name__}\n" in reference


@pytest.mark.parametrize("rule", sorted({*policy.RULES, *policy.STACK_RULES}))
def test_reference_documents_every_policy_rule(reference, rule):
    assert f"| `{rule}` |" in reference


@pytest.mark.parametrize("plugin", sorted(repository_plugins(discover_plugins())))
def test_reference_documents_every_repository_plugins_settings(reference, plugin):
    assert f"\n### {plugin}\n" in reference


class LedgerSettings(PluginSettings):
    """How the ledger keeps entries."""

    # Days entries stay in the hot table.
    retention_days: LogRetentionDays = 30
    batch_size: int = Field(default=10, ge=1, le=25)  # per write
    mode: Literal["strict", "lenient"] = "strict"
    owner: str

    @model_validator(mode="after")
    def _batch_fits_retention(self) -> LedgerSettings:
        """batch_size ≤ retention_days"""
        return self


def test_settings_schema_reads_types_defaults_constraints_and_comments():
    fields = {f.name: f for f in settings_fields(LedgerSettings)}
    assert fields["retention_days"].description == "Days entries stay in the hot table."
    assert fields["retention_days"].constraints[0].startswith("one of the retention periods CloudWatch Logs accepts")
    assert (fields["batch_size"].constraints, fields["batch_size"].description) == (("≥ 1", "≤ 25"), "per write")
    assert (fields["mode"].type, fields["mode"].default) == ('"strict" | "lenient"', '"strict"')
    assert fields["owner"].required and fields["owner"].default == ""


def test_settings_section_is_a_table_with_cross_field_checks():
    section = settings_section(LedgerSettings)
    assert section.startswith(
        "How the ledger keeps entries.\n\n| setting | type | default | constraints | description |\n"
    )
    assert '| `mode` | "strict" \\| "lenient" | `"strict"` |  |  |' in section
    assert "| `owner` | str | required |  |  |" in section
    assert section.endswith("Checked across settings: batch_size ≤ retention_days.\n")


def test_docs_check_fails_on_a_stale_file_naming_the_command(tmp_path):
    stale = tmp_path / "REFERENCE.md"
    stale.write_text("# old\n")
    result = run_cli("docs", "--out", stale, "--check")
    assert (result.returncode, result.stdout) == (1, f"{stale} is stale: run `make reference`\n")
    assert stale.read_text() == "# old\n"


def test_docs_writes_the_reference(tmp_path, reference):
    out = tmp_path / "docs" / "REFERENCE.md"
    result = run_cli("docs", "--out", out)
    assert result.returncode == 0
    assert out.read_text(encoding="utf-8") == reference
    assert result.stdout == f"wrote {out}\n"


def test_docs_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_cli("docs", "--out", tmp_path / "file" / "REFERENCE.md")
    assert result.returncode == 2
    assert result.stderr.startswith(f"payments-platform: error: cannot write {tmp_path / 'file' / 'REFERENCE.md'}: ")


@pytest.mark.parametrize("cls", documented_types(), ids=lambda cls: cls.__name__)
def test_every_public_type_is_described_with_its_fields_and_methods(cls):
    assert undescribed(cls) == [], f"{cls.__name__}: add a docstring / a comment beside each field"


@pytest.mark.parametrize("cls", [Role, Function, Naming, AwsAccount, Statement], ids=lambda cls: cls.__name__)
def test_types_ctx_hands_out_are_in_the_reference(reference, cls):
    assert f"\n### {cls.__name__}\n" in reference


@pytest.mark.parametrize("kind", sorted(MAX_LENGTH))
def test_reference_lists_every_naming_kind(reference, kind):
    assert f"| `{kind}` | {MAX_LENGTH[kind]} |" in reference


def test_a_type_without_descriptions_is_reported():
    @dataclasses.dataclass
    class Bare:
        size: int

        def grow(self) -> None:
            pass

    assert undescribed(Bare) == ["(the type's docstring)", "field size", "method grow"]
