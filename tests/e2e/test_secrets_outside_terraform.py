"""Issue #26: no secret value passes through Terraform. After `local up`, the card-fingerprint
key -- every version of it, read through the emulator's Secrets Manager -- is real key material
and appears in no file of the run (terraform.log, the state, the plan below, every other log and
run file), nor in what `local up` printed. The API keys API Gateway generates are sensitive
attributes: never in Terraform's log or a plan's output (they are in the state; the provider
reads them back -- plugins/api/README.md, "Secrets and Terraform")."""

from __future__ import annotations

import math
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import LocalDeployment

from payments_platform.runtime.settings import FingerprintKeys, decode_secret

pytestmark = pytest.mark.terraform


def fingerprint_secret_arn(deployment: LocalDeployment) -> str:
    (arn,) = {
        f["environment"]["CARD_FINGERPRINT_SECRET_ARN"]
        for f in deployment.gateway_spec["functions"]
        if "CARD_FINGERPRINT_SECRET_ARN" in f.get("environment", {})
    }
    return arn


def secret_values(deployment: LocalDeployment, arn: str) -> dict[str, str]:
    """Version id → value of every version of the secret (the first key, and any rotated since)."""
    secrets = deployment.client("secretsmanager")
    versions = secrets.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    values = {}
    for version in versions:
        try:
            values[version["VersionId"]] = secrets.get_secret_value(SecretId=arn, VersionId=version["VersionId"])[
                "SecretString"
            ]
        except secrets.exceptions.ResourceNotFoundException:
            continue  # a pending version with no value yet
    return values


def file_texts(root: Path) -> dict[Path, bytes]:
    """Every file under root (a zip, such as a plan file, by its members)."""
    texts: dict[Path, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.suffix == ".sock":
            continue
        data = path.read_bytes()
        texts[path] = data
        if zipfile.is_zipfile(path) and path.stat().st_size < 50_000_000:
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    texts[path / member] = archive.read(member)
    return texts


def shannon_bits_per_char(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


@pytest.fixture(scope="module")
def planned(deployment: LocalDeployment, tmp_path_factory) -> tuple[Path, str]:
    """A plan against the deployment (refreshing every resource), its file kept in the run dir."""
    plan_file = deployment.run.run_dir / "secrets-check.tfplan"
    result = deployment.check("plan", "-input=false", "-no-color", "-lock=false", f"-out={plan_file}")
    shown = deployment.check("show", "-json", "-no-color", str(plan_file))
    (deployment.run.run_dir / "secrets-check.plan.json").write_text(shown.stdout)
    return plan_file, result.stdout + result.stderr


def test_the_first_key_is_made_by_the_rotation_and_is_real_key_material(deployment: LocalDeployment):
    arn = fingerprint_secret_arn(deployment)
    values = secret_values(deployment, arn)
    assert values, "the card-fingerprint secret has no value after local up"
    current = deployment.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    for value in values.values():
        assert len(value) == 64 and value.isalnum()
        assert len(decode_secret(value)) == 48  # the runtime reads it as base64: 384 bits
        assert shannon_bits_per_char(value) > 4.5  # a random 62-letter alphabet: ~5.9 at 64 characters
        FingerprintKeys.from_secret(decode_secret(value))  # usable by the keyring
    assert current["SecretString"] in values.values()
    # Terraform made no version: every version was made by the rotation function.
    assert "aws_secretsmanager_secret_version" not in (deployment.config.get("resource") or {})


def test_no_key_value_is_in_a_terraform_log_plan_or_state_or_any_run_file(deployment: LocalDeployment, planned):
    _, plan_output = planned
    values = set(secret_values(deployment, fingerprint_secret_arn(deployment)).values())
    assert values
    texts = file_texts(deployment.run.run_dir)
    stack_dir = deployment.stack_dir
    assert stack_dir.is_relative_to(deployment.run.run_dir)
    arn = fingerprint_secret_arn(deployment).encode()
    assert any(p.name.endswith(".tfstate") and arn in data for p, data in texts.items())  # the state is scanned
    assert any(p.name == "terraform.log" for p in texts) and any(p.suffix == ".tfplan" for p in texts)
    for value in values:
        needle = value.encode()
        found = [str(path) for path, data in texts.items() if needle in data]
        assert found == [], f"a card-fingerprint key version is in {found}"
        assert value not in plan_output
        assert all(value not in line for line in deployment.console)


def test_no_key_value_is_in_a_log_group(deployment: LocalDeployment):
    """The rotator made the first key; it logs the step and version id, never the value."""
    values = set(secret_values(deployment, fingerprint_secret_arn(deployment)).values())
    logs = deployment.client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    rotator_group = next(g for g in groups if "card-fingerprint-rotator" in g)
    first_key_lines = [
        e["message"]
        for e in logs.filter_log_events(logGroupName=rotator_group)["events"]
        if "first_key" in e["message"]
    ]
    assert first_key_lines, "the rotator did not log making the first key"
    for group in groups:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            for event in page["events"]:
                assert not [v for v in values if v in event["message"]], f"a key version is in {group}"


def test_api_keys_are_never_in_terraform_output(deployment: LocalDeployment, planned):
    _, plan_output = planned
    log = (deployment.run.run_dir / "terraform.log").read_text(errors="replace")
    assert deployment.record.api_keys
    for value in deployment.record.api_keys.values():
        assert value not in log and value not in plan_output
