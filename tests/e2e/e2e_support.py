"""What the end-to-end tests share: the `local` environment brought up by `local up`'s own code."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import TerraformError
from payments_platform.core.local.emulator.admin import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from payments_platform.core.local.leftovers import leftovers
from payments_platform.core.local.lifecycle import down
from payments_platform.core.local.processes import emulator_client
from payments_platform.core.local.run_record import LocalRun, RunRecord
from payments_platform.core.ops.terraform import Terraform, find_mirror, find_terraform

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = "local"
REGION = "us-east-1"
# The emulator's seeded administrator (core/local/emulator/admin.py): IAM is enforced there.
DUMMY_CREDENTIALS = {"aws_access_key_id": ADMIN_ACCESS_KEY_ID, "aws_secret_access_key": ADMIN_SECRET_ACCESS_KEY}
APPLY_TIMEOUT_S = 600
OUTPUT_TAIL_LINES = 40
# Measured durations (seconds) of this run, for the terminal summary.
TIMINGS: dict[str, float] = {}


def output_tail(result: subprocess.CompletedProcess[str], lines: int = OUTPUT_TAIL_LINES) -> str:
    """The end of what terraform printed, for assertion messages."""
    parts = []
    for name, text in (("stderr", result.stderr), ("stdout", result.stdout)):
        tail = "\n".join((text or "").rstrip().splitlines()[-lines:])
        parts.append(f"--- {name} (last {lines} lines) ---\n{tail or '(empty)'}")
    return "\n".join(parts)


def terraform_missing() -> str | None:
    """Why an end-to-end deployment cannot run here (no terraform binary, no offline provider mirror), or None."""
    try:
        find_terraform()
    except TerraformError as exc:
        return f"end-to-end deployment needs terraform: {exc}"
    if find_mirror() is None:
        return (
            "end-to-end deployment needs an offline provider mirror holding registry.terraform.io/hashicorp/aws "
            "(none at PAYMENTS_TF_PROVIDER_MIRROR, /opt/tf-plugins, ~/.terraform.d/plugins, ...)"
        )
    return None


def terraform_or_skip() -> None:
    """Skips the test without a terraform binary or an offline provider mirror; nothing else skips."""
    missing = terraform_missing()
    if missing is not None:
        pytest.skip(missing)


@dataclass
class Teardown:
    """What `local down` left: captured after terraform destroy, before the emulator stops."""

    state_addresses: list[str]
    leftovers: dict[str, list[str]]
    processes_alive: list[int] = field(default_factory=list)


@dataclass
class LocalDeployment:
    """The `local` environment as `payments-platform local up` runs it (emulator, apply, gateway)."""

    run: LocalRun
    record: RunRecord
    environment: EnvironmentConfig
    terraform: Terraform
    config: dict[str, Any]  # the synthesized Terraform JSON of the stack
    outputs: dict[str, Any] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)  # what `local up` said
    teardown: Teardown | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    # What tests made on the deployment (their subscriptions to the topic), removed before `down`
    # inspects what the destroy left: a session-scoped one may outlive the module that made it.
    test_subscriptions: dict[str, Callable[[], None]] = field(default_factory=dict)

    def subscribe_a_queue(self, name: str) -> tuple[str, str]:
        """A queue of the tests' own (``e2e-{name}-…``) subscribed to the notifications topic with
        raw delivery, removed before the deployment goes down or by ``unsubscribe``: (queue URL,
        subscription ARN)."""
        sqs, sns = self.client("sqs"), self.client("sns")
        url = sqs.create_queue(QueueName=f"e2e-{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription = sns.subscribe(
            TopicArn=self.outputs["notifications_topic_arn"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )["SubscriptionArn"]

        def remove() -> None:
            sns.unsubscribe(SubscriptionArn=subscription)
            sqs.delete_queue(QueueUrl=url)

        self.test_subscriptions[subscription] = remove
        return url, subscription

    def unsubscribe(self, subscription: str) -> None:
        removing = self.test_subscriptions.pop(subscription, None)
        if removing is not None and self.teardown is None:
            removing()

    @property
    def endpoint(self) -> str:
        assert self.record.endpoint is not None
        return self.record.endpoint

    @property
    def url(self) -> str:
        assert self.record.url is not None
        return self.record.url

    @property
    def stack_dir(self) -> Path:
        assert self.record.stack_dir is not None
        return Path(self.record.stack_dir)

    @property
    def gateway_spec(self) -> dict[str, Any]:
        return json.loads((self.run.run_dir / "gateway-spec.json").read_text())

    def client(self, service: str) -> Any:
        """A client with the emulator's administrator credentials."""
        if service not in self._clients:
            self._clients[service] = emulator_client(service, self.endpoint, REGION)
        return self._clients[service]

    def function_client(self, function: str, service: str) -> Any:
        """A client with the credentials the function's containers run with."""
        credentials = self.gateway_spec["credentials"][function]
        return emulator_client(
            service, self.endpoint, REGION, credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"]
        )

    def run_terraform(self, *args: str, timeout: float = APPLY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return self.terraform.run(list(args), self.stack_dir, timeout=timeout)

    def check(self, *args: str, timeout: float = APPLY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run terraform and fail the test with the tail of its output when it fails."""
        result = self.run_terraform(*args, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed (exit {result.returncode})\n{output_tail(result)}")
        return result

    def down(self) -> Teardown:
        """`local down`, once, recording what the emulator still holds after terraform destroy."""
        if self.teardown is None:
            for subscription in list(self.test_subscriptions):
                self.unsubscribe(subscription)
            captured: dict[str, Any] = {}

            def inspect(record: RunRecord) -> None:
                listed = self.run_terraform("state", "list", timeout=120).stdout.split()
                captured["state"] = [a for a in listed if not a.startswith("data.")]
                captured["leftovers"] = leftovers(self.client, record.suffix)

            down(self.run, before_stop=inspect)
            # A destroy that failed says why (the run directory, its logs included, is gone after down).
            unfinished = f"(destroy did not finish: {self.run.teardown_error or 'no error recorded'})"
            self.teardown = Teardown(captured.get("state", [unfinished]), captured.get("leftovers", {}))
        return self.teardown


ARCHIVE_WAIT_S = 30


def archived_audit_messages(
    deployment: LocalDeployment, transaction_id: str, *, at_least: int = 1
) -> list[dict[str, Any]]:
    """The transaction's audit messages as the archiver stored them (queue → archiver → S3), once
    ``at_least`` are there (one per transition: three where a connector gives the outcome) or the
    wait is over."""
    s3 = deployment.client("s3")
    bucket = deployment.outputs["audit_archive_bucket_name"]
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    while True:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])
        keys = [o["Key"] for o in listed if f"/{transaction_id}/" in o["Key"]]
        if len(keys) >= at_least or time.monotonic() > deadline:
            return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["message"] for key in keys]
        time.sleep(0.25)
