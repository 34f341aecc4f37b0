"""A subscription made through the published topic, deployed by real Terraform on the local
emulator: the event the runtime publishes reaches the subscriber's encrypted queue, alarms and
event types it did not ask for do not -- what the synthesized filter policy, queue policy and key
statement do, not what a test wrote."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from local_support import CTRL_C_ABLE
from plugin_distributions import install_distribution

from payments_platform.core.host.emulator_identity import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from payments_platform.core.local.snapshots import SNAPSHOTS_ENV_VAR
from payments_platform.core.ops.terraform import find_mirror

from cli_runner import CLI

REPO = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "subscriber_plugin" / "payments_webhook_queue_fixture.py"
SUBSCRIBER_ENVIRONMENT = """

[environments.subs]
suffix = "subs"
description = "The messaging plugin and a third-party subscriber on the emulator"
aws_endpoint = "http://127.0.0.1:4566"
plugins = ["messaging", "webhook-queue"]
"""
RECEIVED = "payment.transaction.received"


def install_subscriber(site: Path) -> None:
    site.mkdir()
    shutil.copy(FIXTURE, site / FIXTURE.name)
    install_distribution(site, "payments-webhook-queue", "0.1", {"webhook-queue": FIXTURE.stem})


def publish(sns, topic_arn: str, body: dict, event_type: str | None = None) -> None:
    attributes = {"event_type": {"DataType": "String", "StringValue": event_type}} if event_type else {}
    sns.publish(TopicArn=topic_arn, Message=json.dumps(body), MessageAttributes=attributes)


@pytest.mark.terraform
def test_the_subscribers_queue_receives_the_events_it_asked_for_and_never_an_alarm(tmp_path: Path):
    if shutil.which("terraform") is None or find_mirror() is None:
        pytest.skip("needs terraform and an offline provider mirror")
    workdir, site = tmp_path / "work", tmp_path / "site"
    workdir.mkdir()
    install_subscriber(site)
    (workdir / "environments.toml").write_text((REPO / "environments.toml").read_text() + SUBSCRIBER_ENVIRONMENT)
    record = workdir / ".payments-local" / "run.json"
    # Its own stack (`subs`): snapshots in its run directory, not in the suite's store.
    env = {k: v for k, v in os.environ.items() if k != SNAPSHOTS_ENV_VAR} | {"PYTHONPATH": str(site)}
    up = subprocess.Popen(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "up", "--env", "subs"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **CTRL_C_ABLE,  # the Ctrl-C below must reach it (else it waits out the 120 s there)
    )
    try:
        started = time.time()
        while up.poll() is None and time.time() - started < 300:
            if record.exists() and json.loads(record.read_text()).get("gateway_pid"):  # deployed, serving
                break
            time.sleep(0.5)
        assert up.poll() is None, up.communicate()[1][-3000:]
        run = json.loads(record.read_text())
        clients = {
            "endpoint_url": run["endpoint"],
            "region_name": run["region"],
            "aws_access_key_id": EMULATOR_ACCESS_KEY_ID,
            "aws_secret_access_key": EMULATOR_SECRET_ACCESS_KEY,
        }
        sns, sqs = boto3.client("sns", **clients), boto3.client("sqs", **clients)
        (topic_arn,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        queue_url = sqs.get_queue_url(QueueName="webhook-events-subs")["QueueUrl"]
        publish(sns, topic_arn, {"AlarmName": "transaction-processor-errors-subs", "NewStateValue": "ALARM"})
        publish(sns, topic_arn, {"event_type": "payment.transaction.declined"}, "payment.transaction.declined")
        publish(sns, topic_arn, {"event_type": RECEIVED, "event_id": "txn_1"}, RECEIVED)
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
        assert [json.loads(m["Body"]) for m in messages] == [{"event_type": RECEIVED, "event_id": "txn_1"}]
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: stops everything it deployed
            try:
                up.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
        subprocess.run([*CLI, "--config", str(workdir / "environments.toml"), "local", "down"], cwd=workdir, env=env)
