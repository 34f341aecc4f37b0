"""The emulator's state saved by one process and restored by another (issue #31): key material
exactly (old ciphertext decrypts), data, queues with their dedup memory, secrets -- and a file that
cannot be read changes nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from payments_platform.core.local.emulator.snapshot import RESTORE_ROUTE, SNAPSHOT_ROUTE
from payments_platform.core.testing.emulator import RunningEmulator, running_emulator

REGION = "us-east-1"


def _post(emulator: RunningEmulator, route: str, name: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{emulator.endpoint}{route}?file={name}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _client(emulator: RunningEmulator, service: str) -> Any:
    return emulator.admin_session(REGION).client(service, endpoint_url=emulator.endpoint)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    snapshots = tmp_path_factory.mktemp("snapshots")
    with running_emulator(tmp_path_factory.mktemp("first"), extra_args=["--snapshots-dir", str(snapshots)]) as first:
        kms = _client(first, "kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        ddb = _client(first, "dynamodb")
        ddb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="ledger", Item={"pk": {"S": "a"}, "amount": {"N": "100"}})
        sqs = _client(first, "sqs")
        queue = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="kept", MessageGroupId="g", MessageDeduplicationId="d1")
        _client(first, "secretsmanager").create_secret(Name="fingerprint", SecretString="key-material")
        ec2 = _client(first, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="functions", Description="functions", VpcId=vpc)["GroupId"]
        rule = ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[_egress(443)])
        truth = {
            "vpc": vpc,
            "group": group,
            "rule": rule["SecurityGroupRules"][0]["SecurityGroupRuleId"],
            "key": key_id,
            "ciphertext": kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"],
            "signing": signing,
            "signature": kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"],
        }
        status, body = _post(first, SNAPSHOT_ROUTE, "state.pickle")
        assert status == 200, body
    return snapshots, truth


@pytest.fixture(scope="module")
def restored(saved: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    snapshots, _ = saved
    with running_emulator(tmp_path_factory.mktemp("second"), extra_args=["--snapshots-dir", str(snapshots)]) as second:
        status, body = _post(second, RESTORE_ROUTE, "state.pickle")
        assert status == 200, body
        assert {"kms", "sqs", "dynamodb", "iam", "secretsmanager"} <= set(body["services"])
        yield second


def test_restored_kms_keys_are_the_same_keys(restored: RunningEmulator, saved: Any) -> None:
    _, truth = saved
    kms = _client(restored, "kms")
    assert kms.decrypt(CiphertextBlob=truth["ciphertext"])["Plaintext"] == b"secret"
    verified = kms.verify(
        KeyId=truth["signing"], Message=b"m", Signature=truth["signature"], SigningAlgorithm="RSASSA_PSS_SHA_256"
    )
    assert verified["SignatureValid"]


def test_restored_data_queues_and_secrets(restored: RunningEmulator) -> None:
    item = _client(restored, "dynamodb").get_item(TableName="ledger", Key={"pk": {"S": "a"}})["Item"]
    assert item["amount"] == {"N": "100"}
    sqs = _client(restored, "sqs")
    queue = sqs.get_queue_url(QueueName="events.fifo")["QueueUrl"]
    # the deduplication id is remembered: the same send again is dropped
    sqs.send_message(QueueUrl=queue, MessageBody="again", MessageGroupId="g", MessageDeduplicationId="d1")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["kept"]
    secret = _client(restored, "secretsmanager").get_secret_value(SecretId="fingerprint")
    assert secret["SecretString"] == "key-material"


def _egress(port: int) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": f"TCP {port}"}],
    }


def test_restored_security_groups_keep_their_rules_and_take_new_ones(restored: RunningEmulator, saved: Any) -> None:
    """What a `local up` from the nearest stack does when a function declares egress: new groups and
    rules (aws_security_group, aws_vpc_security_group_egress/ingress_rule) beside restored ones."""
    _, truth = saved
    ec2 = _client(restored, "ec2")
    (kept,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[truth["rule"]])["SecurityGroupRules"]
    assert (kept["GroupId"], kept["FromPort"], kept["IsEgress"]) == (truth["group"], 443, True)
    with pytest.raises(ClientError, match="InvalidPermission.Duplicate"):
        ec2.authorize_security_group_egress(GroupId=truth["group"], IpPermissions=[_egress(443)])
    group = ec2.create_security_group(GroupName="egress", Description="egress", VpcId=truth["vpc"])["GroupId"]
    ec2.revoke_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    made = [
        ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[_egress(8443)]),
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": truth["group"]}]}
            ],
        ),
        ec2.authorize_security_group_egress(GroupId=truth["group"], IpPermissions=[_egress(8443)]),
    ]
    ids = [m["SecurityGroupRules"][0]["SecurityGroupRuleId"] for m in made]
    described = ec2.describe_security_group_rules(SecurityGroupRuleIds=ids)["SecurityGroupRules"]
    assert sorted((r["GroupId"], r["FromPort"], r["IsEgress"]) for r in described) == sorted(
        [(group, 8443, True), (group, 443, False), (truth["group"], 8443, True)]
    )


def test_restored_emulator_still_enforces_iam(restored: RunningEmulator) -> None:
    stranger = boto3.client(
        "sqs",
        endpoint_url=restored.endpoint,
        region_name=REGION,
        aws_access_key_id="AKIASTRANGER000000000",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError):
        stranger.list_queues()


def test_an_unreadable_snapshot_changes_nothing(saved: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    snapshots, _ = saved
    whole = (snapshots / "state.pickle").read_bytes()
    (snapshots / "truncated.pickle").write_bytes(whole[: len(whole) // 2])
    (snapshots / "foreign.pickle").write_bytes(b"\x80\x05N.")  # a pickle, but not a snapshot
    with running_emulator(tmp_path_factory.mktemp("third"), extra_args=["--snapshots-dir", str(snapshots)]) as third:
        _client(third, "sqs").create_queue(QueueName="before")
        for name in ("truncated.pickle", "foreign.pickle"):
            status, body = _post(third, RESTORE_ROUTE, name)
            assert status == 409, body
        assert [u.rsplit("/", 1)[-1] for u in _client(third, "sqs").list_queues()["QueueUrls"]] == ["before"]


def test_snapshot_files_stay_inside_the_snapshots_directory(restored: RunningEmulator) -> None:
    status, body = _post(restored, SNAPSHOT_ROUTE, "../outside.pickle")
    assert status == 400 and "is not a file in" in body["error"]
