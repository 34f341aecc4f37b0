"""Plan summaries: changes counted per plugin, stateful replacements and destroys first, no values."""

from __future__ import annotations

import json

from payments_platform.core.ops.plan_summary import summarize

CONFIG = {
    "resource": {
        "aws_dynamodb_table": {
            "storage_transactions_table_1A2B": {"//": {"metadata": {"path": "payments-dev/storage/transactions_table"}}}
        },
        "aws_lambda_function": {"api_processor_3C4D": {"//": {"metadata": {"path": "payments-dev/api/processor"}}}},
        "aws_cloudwatch_dashboard": {
            "observability_dashboard_5E6F": {"//": {"metadata": {"path": "payments-dev/observability/dashboard"}}}
        },
        "aws_secretsmanager_secret_version": {
            "api_key_version_7A8B": {"//": {"metadata": {"path": "payments-dev/api/key_version"}}}
        },
    }
}
SECRET = "s3cr3t-fingerprint-key"


def change(address: str, actions: list[str], before=None, after=None, **extra):
    rtype = address.split(".")[0]
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "change": {"actions": actions, "before": before, "after": after, **extra},
    }


PLAN = {
    "resource_changes": [
        change(
            "aws_lambda_function.api_processor_3C4D",
            ["update"],
            {"memory_size": 512, "timeout": 10},
            {"memory_size": 1024, "timeout": 10},
        ),
        change("aws_cloudwatch_dashboard.observability_dashboard_5E6F", ["create"], None, {"dashboard_name": "d"}),
        change(
            "aws_dynamodb_table.storage_transactions_table_1A2B",
            ["delete", "create"],
            {"hash_key": "id"},
            {"hash_key": "pk"},
            replace_paths=[["hash_key"]],
        ),
        change("aws_sqs_queue.messaging_audit_queue_9C0D", ["delete"], {"name": "q"}, None),
        change(
            "aws_secretsmanager_secret_version.api_key_version_7A8B",
            ["update"],
            {"secret_string": "old"},
            {"secret_string": SECRET},
            after_sensitive={"secret_string": True},
        ),
        change("aws_iam_role.api_role_1111", ["no-op"], {}, {}),
    ]
}
PLUGINS = ["api", "messaging", "observability", "storage"]


def test_counts_are_grouped_by_the_plugin_owning_the_construct_path():
    summary = summarize(PLAN, CONFIG, "payments-dev", plugins=PLUGINS)
    counts = {p: dict(c) for p, c in summary.by_plugin().items()}
    assert counts == {
        "api": {"change": 2},
        "messaging": {"destroy": 1},
        "observability": {"add": 1},
        "storage": {"replace": 1},
    }


def test_destroyed_resource_missing_from_config_is_attributed_by_logical_id():
    summary = summarize(PLAN, CONFIG, "payments-dev", plugins=PLUGINS)
    queue = next(c for c in summary.changes if c.type == "aws_sqs_queue")
    assert queue.plugin == "messaging" and queue.construct_path == ""


def test_stateful_replacements_and_destroys_come_first_and_shout():
    summary = summarize(PLAN, CONFIG, "payments-dev", plugins=PLUGINS)
    assert [c.address for c in summary.dangerous] == [
        "aws_sqs_queue.messaging_audit_queue_9C0D",
        "aws_dynamodb_table.storage_transactions_table_1A2B",
    ]
    text = summary.render()
    first = text.splitlines()[0]
    assert first.startswith("!!! 2 STATEFUL RESOURCE(S) WILL BE REPLACED OR DESTROYED")
    assert (
        "REPLACE  aws_dynamodb_table.storage_transactions_table_1A2B [storage: payments-dev/storage/transactions_table] (forced by hash_key)"
        in text
    )
    assert text.splitlines()[-1] == "1 to add, 2 to change, 1 to replace, 1 to destroy"


def test_summary_names_changed_attributes_but_never_their_values():
    summary = summarize(PLAN, CONFIG, "payments-dev", plugins=PLUGINS)
    written = json.dumps(summary.to_json()) + summary.render()
    assert SECRET not in written and "old" not in written
    secret = next(c for c in summary.changes if c.type == "aws_secretsmanager_secret_version")
    assert secret.attributes == ("secret_string",)


def test_no_changes_reads_as_such():
    summary = summarize(
        {"resource_changes": [change("aws_iam_role.api_role_1111", ["no-op"], {}, {})]},
        CONFIG,
        "payments-dev",
        plugins=PLUGINS,
    )
    assert not summary.has_changes
    assert summary.render() == "no changes: payments-dev matches its configuration"


def test_drift_reads_resource_drift_and_lists_what_changed_outside_terraform():
    plan = {
        "resource_changes": [],
        "resource_drift": [
            change("aws_lambda_function.api_processor_3C4D", ["update"], {"timeout": 10}, {"timeout": 30}),
            change("aws_dynamodb_table.storage_transactions_table_1A2B", ["delete"], {"name": "t"}, None),
        ],
    }
    summary = summarize(plan, CONFIG, "payments-dev", plugins=PLUGINS, mode="drift")
    text = summary.render()
    assert "drift in payments-dev: 2 resource(s) changed outside Terraform" in text
    assert "aws_lambda_function.api_processor_3C4D changed: timeout" in text
    assert "aws_dynamodb_table.storage_transactions_table_1A2B deleted" in text


def test_a_moved_resource_is_listed_as_kept_not_as_a_change():
    moved = change("aws_cloudwatch_metric_alarm.observability_alarm_x_2222", ["no-op"], {}, {})
    moved["previous_address"] = "aws_cloudwatch_metric_alarm.api_alarm_x_1111"
    summary = summarize({"resource_changes": [moved]}, CONFIG, "payments-dev", plugins=PLUGINS)
    assert not summary.has_changes
    assert summary.render().splitlines() == [
        "no changes: payments-dev matches its configuration",
        "  moved    aws_cloudwatch_metric_alarm.api_alarm_x_1111 -> "
        "aws_cloudwatch_metric_alarm.observability_alarm_x_2222 (kept, not replaced)",
    ]
    assert summary.to_json()["moved"] == [
        {
            "from": "aws_cloudwatch_metric_alarm.api_alarm_x_1111",
            "to": "aws_cloudwatch_metric_alarm.observability_alarm_x_2222",
        }
    ]
