"""The audit archive on the local deployment: the deployed bucket, and the path a payment's audit
message takes -- the processor's SendMessage → the audit queue → the archiver, invoked by the
local Lambda service's poller for the deployed event source mapping (as Lambda polls) → S3.
The archiver's own logic (redelivery, poison messages) is tested against moto in
tests/runtime/test_audit_archive.py; here the deployed pieces are wired together."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from e2e_support import LocalDeployment, archived_audit_messages

from payments_platform.core.deployment_checks import http_request as request
from payments_platform.plugins.api.local_checks import TEST_CVC, TEST_PAN, payment_body
from payments_platform.runtime.redaction import contains_card_data

pytestmark = pytest.mark.terraform

LOG_WAIT_S = 30


@pytest.fixture(scope="module")
def archive_bucket(deployment: LocalDeployment) -> str:
    return str(deployment.outputs["audit_archive_bucket_name"])


def test_the_archive_bucket_is_versioned_and_encrypted_with_the_platform_key(deployment, archive_bucket):
    s3 = deployment.client("s3")
    assert s3.get_bucket_versioning(Bucket=archive_bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=archive_bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_the_archive_keeps_objects_400_days_moving_them_to_glacier_instant_retrieval(deployment, archive_bucket):
    (rule,) = deployment.client("s3").get_bucket_lifecycle_configuration(Bucket=archive_bucket)["Rules"]
    assert (rule["Expiration"]["Days"], rule["Transitions"]) == (400, [{"Days": 90, "StorageClass": "GLACIER_IR"}])


def test_the_archiver_reads_the_audit_queue_in_batches_with_partial_failures(deployment: LocalDeployment):
    queue_arn = deployment.client("sqs").get_queue_attributes(
        QueueUrl=deployment.outputs["audit_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    (mapping,) = deployment.client("lambda").list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert mapping["FunctionArn"].endswith(f":function:{deployment.outputs['audit_archiver_function_name']}")
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (10, ["ReportBatchItemFailures"])


def test_a_payment_over_http_is_archived_once_without_card_data(deployment: LocalDeployment, archive_bucket):
    key = sorted(deployment.record.api_keys.values())[0]
    created = request(
        "POST",
        f"{deployment.url}/transactions",
        body=payment_body("e2e-archive"),
        headers={"Content-Type": "application/json", "x-api-key": key, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status == 201, created.body
    transaction_id = created.json()["transaction_id"]
    (archived,) = archived_audit_messages(deployment, transaction_id)
    assert archived["transaction_id"] == transaction_id
    assert not contains_card_data(json.dumps(archived)) and TEST_PAN not in json.dumps(archived)
    assert TEST_CVC not in json.dumps(archived)


def test_a_poison_message_is_rejected_by_the_archiver_and_left_for_the_dead_letter_queue(deployment: LocalDeployment):
    sqs = deployment.client("sqs")
    message_id = sqs.send_message(
        QueueUrl=deployment.outputs["audit_queue_url"],
        MessageBody=f"{TEST_PAN} is not an audit record",
        MessageGroupId=f"e2e-poison-{uuid.uuid4().hex[:8]}",
    )["MessageId"]
    logs = deployment.client("logs")
    group = f"/aws/lambda/{deployment.outputs['audit_archiver_function_name']}"
    rejected: list[dict] = []
    deadline = time.monotonic() + LOG_WAIT_S
    while not rejected and time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=group)["events"]
        lines = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        rejected = [line for line in lines if line.get("event") == "audit_message_rejected"]
        rejected = [line for line in rejected if line.get("message_id") == message_id]
        time.sleep(0.5)
    assert rejected, f"the archiver did not reject {message_id} within {LOG_WAIT_S} s"
    assert not any(TEST_PAN in e["message"] for e in logs.filter_log_events(logGroupName=group)["events"])
    # Reported as a batch item failure: the poller did not delete it (it is in flight until its
    # visibility timeout, then redelivered, and after maxReceiveCount moved to the dead-letter queue).
    attributes = sqs.get_queue_attributes(
        QueueUrl=deployment.outputs["audit_queue_url"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) >= 1
