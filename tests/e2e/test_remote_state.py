"""End to end: remote state on the emulator — bootstrap, migrate, lock, plan, drift, destroy.

The `local` environment with only the storage plugin (a KMS key and a DynamoDB table: the
point is the backend, not the platform) is deployed with local state, moved into an S3 bucket
that `state bootstrap` created on the moto server, and then driven through the CLI exactly as
an engineer would: a held lock refuses a second apply naming its holder, a stale lock is shown
and released, plan sees no changes, drift sees an out-of-band change, destroy leaves the
bucket holding an empty state and no lockfile. Tests run in file order.

Run alone: .venv/bin/python -m pytest tests/e2e/test_remote_state.py -q   (about 2 minutes)
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from e2e_support import DUMMY_CREDENTIALS, REGION, TIMINGS

from payments_platform.core.host.config import load_config
from payments_platform.core.ops.stack_workspace import StackWorkspace

from cli_runner import CLI

pytestmark = pytest.mark.terraform

BUCKET = "e2e-payments-tfstate"
KMS_ALIAS = "alias/e2e-terraform-state"
STATE_KEY = "payments-platform/payments-local/local.tfstate"
CLI_TIMEOUT_S = 300
LOCK_WAIT_S = 60


@dataclasses.dataclass
class Bench:
    """The working directory of one engineer: two views of the same environment, before and
    after it moved to remote state."""

    endpoint: str
    root: Path
    local_config: Path
    remote_config: Path

    @property
    def synth_out(self) -> Path:
        return self.root / "cdktf.out"

    def command(self, *args: str, remote: bool = True) -> list[str]:
        config = self.remote_config if remote else self.local_config
        return [*CLI, "--config", str(config), *args]

    def cli(self, *args: str, remote: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args, remote=remote), cwd=self.root, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )

    def ok(self, *args: str, remote: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.cli(*args, remote=remote)
        assert result.returncode == 0, (
            f"{' '.join(args)} failed (exit {result.returncode}):\n{result.stderr}\n{result.stdout[-3000:]}"
        )
        return result

    def client(self, service: str):
        return boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS).client(
            service, endpoint_url=self.endpoint
        )


def environment_file(path: Path, endpoint: str, *, remote: bool) -> Path:
    state = (
        f'[environments.local.state]\nbucket = "{BUCKET}"\nkey_prefix = "payments-platform"\n'
        f'region = "{REGION}"\nkms_key_id = "{KMS_ALIAS}"\n'
        if remote
        else ""
    )
    path.write_text(f'[defaults]\nplugins = ["storage"]\n[environments.local]\naws_endpoint = "{endpoint}"\n{state}')
    return path


@pytest.fixture(scope="module")
def bench(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("remote-state")
    started = time.perf_counter()
    yield Bench(
        endpoint=moto_endpoint,
        root=root,
        local_config=environment_file(root / "local.toml", moto_endpoint, remote=False),
        remote_config=environment_file(root / "remote.toml", moto_endpoint, remote=True),
    )
    TIMINGS["remote-state tests"] = time.perf_counter() - started


@pytest.fixture(scope="module")
def bootstrap(bench: Bench) -> Iterator[subprocess.Popen[str]]:
    """`state bootstrap`, started in the background: most of its minute is the provider waiting
    for the lifecycle rule to settle, which the local deployment can use."""
    process = subprocess.Popen(
        bench.command("state", "bootstrap", "--env", "local"),
        cwd=bench.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=CLI_TIMEOUT_S)


def objects(bench: Bench) -> set[str]:
    listed = bench.client("s3").list_objects_v2(Bucket=BUCKET)
    return {o["Key"] for o in listed.get("Contents", [])}


def wait_for_lock(bench: Bench, present: bool) -> None:
    deadline = time.monotonic() + LOCK_WAIT_S
    while (f"{STATE_KEY}.tflock" in objects(bench)) != present:
        assert time.monotonic() < deadline, f"lockfile {'never appeared' if present else 'never went away'}"
        time.sleep(0.5)


@pytest.fixture
def lock_holder(bench: Bench, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A second engineer's terraform holding the state lock: `terraform console` locks the
    state for as long as it runs."""
    (environment,) = load_config(bench.remote_config).select(["local"])
    workspace = StackWorkspace.prepare(environment, tmp_path / "holder-out")
    holder = subprocess.Popen(
        [workspace.terraform.binary, "console", "-no-color"],
        cwd=workspace.stack_dir,
        env=workspace.terraform.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its provider plugin is in its group: killing the group leaves no orphan
    )
    try:
        wait_for_lock(bench, present=True)
        yield holder
    finally:
        try:
            os.killpg(holder.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        holder.wait(timeout=30)


# --------------------------------------------------------------------------- before: local state


def test_plan_before_bootstrap_names_the_command_that_creates_the_bucket(bench: Bench):
    result = bench.cli("plan", "--env", "local")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"the state bucket {BUCKET} does not exist" in result.stderr
    assert result.stderr.rstrip().endswith("payments-platform state bootstrap --env local")


def test_environment_first_deploys_with_local_state(bench: Bench, bootstrap: subprocess.Popen[str]):
    bench.ok("deploy", "--env", "local", "--auto-approve", "--synth-dir", str(bench.synth_out), remote=False)
    state = json.loads((bench.root / "terraform.payments-local.tfstate").read_text())
    assert any(r["type"] == "aws_dynamodb_table" for r in state["resources"])


def test_bootstrap_creates_a_versioned_kms_encrypted_private_bucket(bench: Bench, bootstrap: subprocess.Popen[str]):
    stdout, stderr = bootstrap.communicate(timeout=CLI_TIMEOUT_S)
    assert bootstrap.returncode == 0, stderr
    assert f"state bucket {BUCKET} ready" in stdout
    s3 = bench.client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    key_arn = bench.client("kms").describe_key(KeyId=KMS_ALIAS)["KeyMetadata"]["Arn"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert set(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values()) == {True}
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyUnencryptedObjectUploads"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert (bench.root / f"terraform.state-{BUCKET}.tfstate").is_file()  # its own state stays beside it


def test_second_bootstrap_changes_nothing(bench: Bench):
    assert "nothing to change" in bench.ok("state", "bootstrap", "--env", "local").stdout


def test_bucket_refuses_an_unencrypted_upload(bench: Bench):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="403|AccessDenied|Forbidden"):
        bench.client("s3").put_object(Bucket=BUCKET, Key="plain.txt", Body=b"x")


# --------------------------------------------------------------------------- migrate


def test_migrate_moves_local_state_into_the_encrypted_bucket(bench: Bench):
    local_file = bench.root / "terraform.payments-local.tfstate"
    resources = json.loads(local_file.read_text())["resources"]
    result = bench.ok("state", "migrate", "--env", "local")
    assert f"migrated {len(resources)} resources of payments-local to s3://{BUCKET}/{STATE_KEY}" in result.stdout
    assert not local_file.exists() and local_file.with_name(local_file.name + ".migrated").is_file()
    head = bench.client("s3").head_object(Bucket=BUCKET, Key=STATE_KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    remote = json.loads(bench.client("s3").get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert {(r["type"], r["name"]) for r in remote["resources"]} == {(r["type"], r["name"]) for r in resources}


def test_migrate_refuses_when_the_bucket_already_holds_state(bench: Bench):
    local_file = bench.root / "terraform.payments-local.tfstate"
    local_file.write_bytes(local_file.with_name(local_file.name + ".migrated").read_bytes())
    before = bench.client("s3").head_object(Bucket=BUCKET, Key=STATE_KEY)["ETag"]
    try:
        result = bench.cli("state", "migrate", "--env", "local")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "already holds state" in result.stderr and "refusing to overwrite it" in result.stderr
        assert local_file.is_file()
        assert bench.client("s3").head_object(Bucket=BUCKET, Key=STATE_KEY)["ETag"] == before
    finally:
        local_file.unlink()


# --------------------------------------------------------------------------- plan and locks


def test_plan_of_the_unchanged_environment_shows_no_changes(bench: Bench, tmp_path: Path):
    plan_file = tmp_path / "local.tfplan"
    result = bench.cli("plan", "--env", "local", "--detailed-exitcode", "--out", str(plan_file))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no changes: payments-local matches its configuration" in result.stdout
    assert f"state: s3://{BUCKET}/{STATE_KEY}" in result.stdout
    summary = json.loads(plan_file.with_name(plan_file.name + ".json").read_text())
    assert summary["has_changes"] is False and summary["stack"] == "payments-local"


def test_second_apply_is_refused_while_the_lock_is_held(bench: Bench, lock_holder: subprocess.Popen[str]):
    result = bench.cli("deploy", "--env", "local", "--auto-approve")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    lock = json.loads(bench.client("s3").get_object(Bucket=BUCKET, Key=f"{STATE_KEY}.tflock")["Body"].read())
    assert f"the state of payments-local is locked by {lock['Who']}" in result.stderr
    assert f"payments-platform state unlock --env local --lock-id {lock['ID']}" in result.stderr
    lock_holder.stdin.close()  # the holder finishes and releases its lock
    assert lock_holder.wait(timeout=60) == 0
    wait_for_lock(bench, present=False)


def test_stale_lock_of_an_interrupted_run_is_shown_and_released(bench: Bench, lock_holder: subprocess.Popen[str]):
    os.killpg(lock_holder.pid, signal.SIGKILL)  # an interrupted run (terraform and its provider): its lock stays behind
    lock_holder.wait(timeout=30)
    lock = json.loads(bench.client("s3").get_object(Bucket=BUCKET, Key=f"{STATE_KEY}.tflock")["Body"].read())
    shown = bench.ok("state", "unlock", "--env", "local").stdout
    assert f"payments-local is locked by {lock['Who']}" in shown and f"--lock-id {lock['ID']}" in shown
    wrong = bench.cli("state", "unlock", "--env", "local", "--lock-id", "not-the-lock")
    assert wrong.returncode == 2 and f"is locked with ID {lock['ID']}" in wrong.stderr
    assert (
        f"released lock {lock['ID']}" in bench.ok("state", "unlock", "--env", "local", "--lock-id", lock["ID"]).stdout
    )
    assert f"{STATE_KEY}.tflock" not in objects(bench)


# --------------------------------------------------------------------------- drift and destroy


def test_drift_reports_a_change_made_outside_terraform(bench: Bench):
    table_arn = bench.client("dynamodb").describe_table(TableName="payment-transactions-local")["Table"]["TableArn"]
    bench.client("dynamodb").tag_resource(ResourceArn=table_arn, Tags=[{"Key": "ChangedBy", "Value": "console"}])
    result = bench.cli("drift", "--env", "local", "--detailed-exitcode")
    assert result.returncode == 2, result.stderr + result.stdout
    assert "drift in payments-local: 1 resource(s) changed outside Terraform" in result.stdout
    assert "storage" in result.stdout and "aws_dynamodb_table." in result.stdout and "tags" in result.stdout


def test_destroy_leaves_the_state_bucket_clean(bench: Bench):
    bench.ok("destroy", "--env", "local", "--auto-approve")
    assert objects(bench) == {STATE_KEY}  # no lockfile, nothing else
    remote = json.loads(bench.client("s3").get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert remote["resources"] == []
