"""`payments-platform new-plugin`: refused names write nothing; a scaffold installs, passes its
own tests (the api plugin stood in for by stub_provider) and, enabled in prod, grants the real
transaction processor least-privilege send rights on its own queue through the typed key
(end to end, in a throwaway venv)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from plugin_distributions import install_in_throwaway_venv

from cli_runner import run_cli

NAME = "ledger_probe"
REPO = Path(__file__).resolve().parents[3]


def new_plugin(*args):
    result = run_cli("new-plugin", *args)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("fraud-rules", "plugin name 'fraud-rules' must be a lowercase Python identifier"),
        ("Fraud", "plugin name 'Fraud' must be a lowercase Python identifier"),
        ("class", "plugin name 'class' must be a lowercase Python identifier"),
        ("api", "plugin 'api' (distribution payments-platform "),
        ("platform", "a Python package named payments_platform is already importable"),
    ],
)
def test_refused_name_is_one_line_and_writes_nothing(tmp_path, name, message):
    code, out, err = new_plugin(name, "--dir", str(tmp_path / "plugin"))
    assert (code, out, list(tmp_path.iterdir())) == (2, "", [])
    assert err.startswith(f"payments-platform: error: {message}") and err.count("\n") == 1


def test_existing_directory_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "plugin").mkdir()
    code, _, err = new_plugin(NAME, "--dir", str(tmp_path / "plugin"))
    assert (
        code == 2
        and err == f"payments-platform: error: {tmp_path / 'plugin'} already exists; pass --dir with a new directory\n"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "plugin"] and not any((tmp_path / "plugin").iterdir())


def test_directory_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    code, _, err = new_plugin(NAME, "--dir", str(tmp_path / "file" / "plugin"))
    assert code == 2 and err.startswith(f"payments-platform: error: cannot create {tmp_path / 'file' / 'plugin'}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_scaffold_lists_what_it_wrote(tmp_path):
    code, out, _ = new_plugin(NAME, "--dir", str(tmp_path / "plugin"))
    written = sorted(str(p.relative_to(tmp_path / "plugin")) for p in (tmp_path / "plugin").rglob("*") if p.is_file())
    assert code == 0 and written == [
        "README.md",
        "payments_ledger_probe/__init__.py",
        "payments_ledger_probe/plugin.py",
        "payments_ledger_probe/settings.py",
        "pyproject.toml",
        "tests/test_plugin.py",
    ]
    assert all(f"  {path}\n" in out for path in written)
    assert [p.name for p in tmp_path.iterdir()] == ["plugin"]  # no staging directory left


def test_scaffold_imports_nothing_of_another_plugin(tmp_path):
    new_plugin(NAME, "--dir", str(tmp_path / "plugin"))
    sources = "".join(p.read_text() for p in (tmp_path / "plugin").rglob("*.py"))
    assert "payments_platform.plugins" not in sources and "import cdktf" not in sources


def test_hint_enables_the_plugin_as_environments_do(tmp_path):
    _, out, _ = new_plugin(NAME, "--dir", str(tmp_path / "plugin"))
    assert f'enable = ["{NAME}"]' in out
    assert f'enable = ["{NAME}"]' in (tmp_path / "plugin" / "README.md").read_text()


def test_scaffold_shows_the_whole_contract(tmp_path):
    new_plugin(NAME, "--dir", str(tmp_path / "plugin"))
    plugin = (tmp_path / "plugin" / f"payments_{NAME}" / "plugin.py").read_text()
    tests = (tmp_path / "plugin" / "tests" / "test_plugin.py").read_text()
    assert "def payments_resources(ctx: PluginContext) -> None:" in plugin
    assert "def payments_wiring(ctx: PluginContext) -> None:" in plugin
    assert "requires=(keys.TRANSACTION_PROCESSOR,)" in plugin and "uses=" in plugin
    assert "grant_send(ctx.roles, processor.role," in plugin
    assert 'stub_provider("api", [keys.TRANSACTION_PROCESSOR])' in tests


@pytest.mark.parametrize("kind", ["queue", "connector"])
def test_scaffold_passes_static_checks(tmp_path, kind):
    new_plugin(NAME, "--kind", kind, "--dir", str(tmp_path / "plugin"))
    ruff = Path(sys.executable).parent / "ruff"
    for command in (["check", "--select", "F,E,W,I,UP,B"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *command, "--line-length", "120", "--no-cache", "."],
            cwd=tmp_path / "plugin",
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def install_scaffold(root: Path, name: str, *kind: str):
    """`new-plugin name [--kind K]` installed (not editable) into a throwaway venv in ``root``.
    Returns (python, environment)."""
    assert run_cli("new-plugin", name, "--dir", root / "plugin", *kind).returncode == 0
    return install_in_throwaway_venv(root, root / "plugin")


def run_own_tests(root: Path, python: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root / "plugin",
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def installed_scaffold():
    """The scaffold installed into a throwaway venv; the venv, the scaffold and its synth vanish afterwards."""
    with tempfile.TemporaryDirectory(prefix="payments-new-plugin-") as tmp:
        root = Path(tmp)
        python, env = install_scaffold(root, NAME)
        yield root, python, env


def test_scaffold_passes_its_own_tests_once_installed(installed_scaffold):
    result = run_own_tests(*installed_scaffold)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


@pytest.fixture(scope="module")
def prod_with_scaffold(installed_scaffold):
    """prod as environments.toml has it, plus the scaffold (``enable``) with a settings table,
    synthesized by the throwaway venv's ``payments-platform``."""
    root, python, _ = installed_scaffold
    config = (REPO / "environments.toml").read_text()
    config, enabled = re.subn(
        r'(\[environments\.prod\]\n(?:[^\[]*\n)*?)enable = \["waf"\]', rf'\1enable = ["waf", "{NAME}"]', config
    )
    assert enabled == 1, "prod's enable line moved: update this test"
    config += f"\n[environments.prod.settings.{NAME}]\nmessage_retention_seconds = 1209600\n"
    (root / "environments.toml").write_text(config)
    outside_this_venv = {"PYTHONPATH": None, "VIRTUAL_ENV": None}
    result = run_cli(
        "synth", "--env", "prod", "--synth-dir", root / "out", cwd=root, python=python, env=outside_this_venv
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    return json.loads((root / "out" / "stacks" / "payments-prod" / "cdk.tf.json").read_text())


def processor_statements(config: dict) -> dict[str, dict]:
    for body in config["resource"]["aws_iam_role_policy"].values():
        if body["//"]["metadata"]["path"].endswith("/role_transaction-processor_policy"):
            return {s["Sid"]: s for s in json.loads(body["policy"])["Statement"]}
    raise AssertionError("no policy for the transaction processor")


def test_prod_with_the_scaffold_creates_its_queue_under_the_platform_key(prod_with_scaffold):
    queues = {q["name"]: q for q in prod_with_scaffold["resource"]["aws_sqs_queue"].values()}
    queue = queues["ledger-probe-prod"]
    assert queue["message_retention_seconds"] == 1209600
    assert queue["kms_master_key_id"].startswith("${aws_kms_key.")


def test_prod_processor_may_send_to_the_scaffolds_queue_only_through_least_privilege(prod_with_scaffold):
    queue_id = next(
        lid for lid, q in prod_with_scaffold["resource"]["aws_sqs_queue"].items() if q["name"] == "ledger-probe-prod"
    )
    (key_id,) = prod_with_scaffold["resource"]["aws_kms_key"]
    statements = processor_statements(prod_with_scaffold)
    assert statements["LedgerProbeSend"] == {
        "Sid": "LedgerProbeSend",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": "${aws_sqs_queue." + queue_id + ".arn}",
    }
    assert statements["LedgerProbeSendKms"] == {
        "Sid": "LedgerProbeSendKms",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "${aws_kms_key." + key_id + ".arn}",
        "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}},
    }


def test_prod_processor_keeps_exactly_its_own_statements_besides(prod_with_scaffold):
    assert sorted(processor_statements(prod_with_scaffold)) == sorted(
        [
            "AuditQueueSend",
            "AuditQueueSendKms",
            "CardFingerprintKeyDecrypt",
            "CardFingerprintKeyRead",
            "LedgerProbeSend",
            "LedgerProbeSendKms",
            "NotificationsPublish",
            "NotificationsPublishKms",
            "TransactionsTableWrite",
            "TransactionsTableWriteKms",
            "VpcNetworkInterfaces",
            "WriteOwnLogs",
            "XRayTracing",
        ]
    )


# --------------------------------------------------------------------------- --kind connector


def test_connector_scaffold_lists_its_handler_package_and_tests(tmp_path):
    code, out, _ = new_plugin("card_gate", "--kind", "connector", "--dir", str(tmp_path / "plugin"))
    written = sorted(str(p.relative_to(tmp_path / "plugin")) for p in (tmp_path / "plugin").rglob("*") if p.is_file())
    assert code == 0 and written == [
        "README.md",
        "payments_card_gate/__init__.py",
        "payments_card_gate/function/__init__.py",
        "payments_card_gate/function/handler.py",
        "payments_card_gate/plugin.py",
        "payments_card_gate/settings.py",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_handler.py",
        "tests/test_plugin.py",
    ]
    plugin = (tmp_path / "plugin" / "payments_card_gate" / "plugin.py").read_text()
    assert "provides=(keys.PAYMENT_CONNECTOR,)" in plugin and "function_package(" in plugin
    assert "payments_platform.plugins" not in "".join(p.read_text() for p in (tmp_path / "plugin").rglob("*.py"))
    assert 'instead of its connector: enable = ["card_gate"]' in out


def test_an_unknown_kind_is_refused_by_the_cli_in_one_line(tmp_path):
    code, out, err = new_plugin("card_gate", "--kind", "gateway", "--dir", str(tmp_path / "plugin"))
    assert code == 2 and out == "" and "unknown plugin kind 'gateway'" in err and err.count("\n") == 1
    assert not (tmp_path / "plugin").exists()


def test_connector_scaffold_passes_its_own_tests_once_installed(tmp_path):
    python, env = install_scaffold(tmp_path, "card_gate", "--kind", "connector")
    result = run_own_tests(tmp_path, python, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
