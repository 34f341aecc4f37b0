"""Attributes moto 5.2.5 drops round-trip on the emulator (core/local/emulator/moto_fidelity.py), through
boto3 against the real emulator process."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from payments_platform.core.local.emulator.moto_fidelity import merged_logging_config


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- Lambda LoggingConfig


@pytest.fixture(scope="module")
def role_arn(admin) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return admin("iam").create_role(RoleName=unique("fn-role"), AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_function(admin, role_arn: str, **extra) -> str:
    name = unique("fn")
    admin("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": package()},
        **extra,
    )
    return name


def test_logging_config_given_at_create_is_returned(admin, role_arn):
    config = {"LogFormat": "Text", "LogGroup": "/custom/payments"}
    name = create_function(admin, role_arn, LoggingConfig=config)
    assert admin("lambda").get_function_configuration(FunctionName=name)["LoggingConfig"] == config
    assert admin("lambda").get_function(FunctionName=name)["Configuration"]["LoggingConfig"] == config


def test_a_function_created_without_logging_config_reports_lambdas_default(admin, role_arn):
    name = create_function(admin, role_arn)
    assert admin("lambda").get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{name}",
    }


def test_update_function_configuration_changes_logging_config(admin, role_arn):
    name = create_function(admin, role_arn, LoggingConfig={"LogFormat": "Text", "LogGroup": "/a"})
    admin("lambda").update_function_configuration(FunctionName=name, LoggingConfig={"LogGroup": "/b"})
    assert admin("lambda").get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/b",
    }


def test_list_functions_carries_logging_config(admin, role_arn):
    name = create_function(admin, role_arn, LoggingConfig={"LogFormat": "Text", "LogGroup": "/listed"})
    (listed,) = [f for f in admin("lambda").list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed["LoggingConfig"]["LogGroup"] == "/listed"


def test_json_log_format_brings_lambdas_default_log_levels():
    assert merged_logging_config("f", None, {"LogFormat": "JSON"}) == {
        "LogFormat": "JSON",
        "LogGroup": "/aws/lambda/f",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
    }


# --------------------------------------------------------------------------- security group rules


@pytest.fixture(scope="module")
def groups(admin) -> tuple[str, str]:
    ec2 = admin("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    return tuple(
        ec2.create_security_group(GroupName=unique("sg"), Description="test", VpcId=vpc)["GroupId"] for _ in range(2)
    )


def described(admin, rule_id: str) -> dict:
    (rule,) = admin("ec2").describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    return rule


def prefix_list_egress_rule(admin, group_id: str, description: str) -> tuple[dict, str]:
    """(the rule Authorize returned, its prefix list id)."""
    ec2 = admin("ec2")
    prefix_list = ec2.create_managed_prefix_list(PrefixListName=unique("pl"), MaxEntries=1, AddressFamily="IPv4")[
        "PrefixList"
    ]["PrefixListId"]
    (rule,) = ec2.authorize_security_group_egress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": prefix_list, "Description": description}],
            }
        ],
    )["SecurityGroupRules"]
    return rule, prefix_list


def test_a_prefix_list_egress_rule_keeps_its_description(admin, groups):
    rule, _ = prefix_list_egress_rule(admin, groups[0], "HTTPS to s3")
    assert rule["Description"] == "HTTPS to s3"
    assert described(admin, rule["SecurityGroupRuleId"])["Description"] == "HTTPS to s3"


def test_a_referenced_group_ingress_rule_keeps_its_description(admin, groups):
    (rule,) = admin("ec2").authorize_security_group_ingress(
        GroupId=groups[1],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": groups[0], "Description": "from the Lambdas"}],
            }
        ],
    )["SecurityGroupRules"]
    found = described(admin, rule["SecurityGroupRuleId"])
    assert found["Description"] == "from the Lambdas"
    assert found["ReferencedGroupInfo"]["GroupId"] == groups[0]


def test_a_cidr_rule_description_still_round_trips(admin, groups):
    (rule,) = admin("ec2").authorize_security_group_ingress(
        GroupId=groups[1],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "IpRanges": [{"CidrIp": "10.42.0.0/24", "Description": "cidr"}],
            }
        ],
    )["SecurityGroupRules"]
    assert described(admin, rule["SecurityGroupRuleId"])["Description"] == "cidr"


def test_modify_security_group_rules_changes_a_prefix_list_rules_description(admin, groups):
    rule, prefix_list = prefix_list_egress_rule(admin, groups[1], "old")
    admin("ec2").modify_security_group_rules(
        GroupId=groups[1],
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule["SecurityGroupRuleId"],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "PrefixListId": prefix_list,
                    "Description": "new",
                },
            }
        ],
    )
    assert described(admin, rule["SecurityGroupRuleId"])["Description"] == "new"


# --------------------------------------------------------------------------- DynamoDB write isolation


def test_a_failed_transaction_never_undoes_concurrent_writes(admin):
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    dynamodb = admin("dynamodb")
    table = unique("isolation")
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "taken"}})
    try:

        def failing_transaction(_: int) -> None:
            with pytest.raises(ClientError):
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": table,
                                "Item": {"id": {"S": "taken"}},
                                "ConditionExpression": "attribute_not_exists(id)",
                            }
                        }
                    ]
                )

        def put(n: int) -> None:
            dynamodb.put_item(TableName=table, Item={"id": {"S": f"item-{n}"}})

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(failing_transaction if n % 2 else put, n) for n in range(200)]
            for future in futures:
                future.result()
        stored = {i["id"]["S"] for i in dynamodb.scan(TableName=table)["Items"]}
        assert {f"item-{n}" for n in range(0, 200, 2)} <= stored
    finally:
        dynamodb.delete_table(TableName=table)


def test_a_fifo_queue_drops_a_resent_deduplication_id_even_after_the_first_was_deleted(admin):
    sqs = admin("sqs")
    url = sqs.create_queue(QueueName=unique("dedup") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    message = {"QueueUrl": url, "MessageBody": "audit", "MessageGroupId": "g", "MessageDeduplicationId": "txn_1"}
    sqs.send_message(**message)
    [received] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    sqs.send_message(**message)  # a reconciler's re-send within SQS's 5-minute window
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    sqs.send_message(**{**message, "MessageDeduplicationId": "txn_2"})
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_setting_a_queues_redrive_policy_keeps_its_policy(admin):
    sqs = admin("sqs")
    dead_letter_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny"}]})
    url = sqs.create_queue(QueueName=unique("source"), Attributes={"Policy": policy})["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 5}, separators=(",", ":"))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})  # aws_sqs_queue_redrive_policy
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["Policy"], attributes["RedrivePolicy"]) == (policy, redrive)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})  # an explicit empty policy still removes it
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
