"""A plugin distribution owns its compliance decisions: its reviewed entries ship with it (capped
per distribution, on its own resources only), rules excuse what holds by construction wherever it
comes from, and the gate says whose decision excused what."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
from merchant_webhooks import SECRET_ENTRY, MerchantWebhooks

from payments_platform.core.errors import ComplianceError
from payments_platform.core.ops.compliance import rules
from payments_platform.core.ops.compliance.baseline import (
    MAX_ENTRIES_PER_DISTRIBUTION,
    Baseline,
    BaselineEntry,
    foreign_resources,
    judge,
    load_plugin_baseline,
)
from payments_platform.core.ops.compliance.checkov import CheckResult
from payments_platform.core.ops.compliance.gate import _gate, full_baseline, scan_configs, verdict_of
from payments_platform.core.testing import synth

REPO = Path(__file__).resolve().parents[4]
OWNER = "plugin 'merchant-webhooks' (distribution merchant-webhooks 0.1.0)"
SECRET = "aws_secretsmanager_secret.merchant-webhooks_signing_secret_E8FD716A"
LOG_GROUP = "aws_cloudwatch_log_group.merchant-webhooks_sender_log_group_D9000DCA"
SENDER = "aws_lambda_function.merchant-webhooks_sender_909252F8"


def failed(check: str, address: str, stack: str = "payments-prod") -> CheckResult:
    return CheckResult(stack, check, "a check", address, passed=False)


# -- rules that hold by construction ----------------------------------------------------------


def log_group_config(
    *, filter_pattern: str = "", retention: int = 30, to: str = "stream", archive_days: int = 400
) -> dict:
    destination = {
        "stream": "${aws_kinesis_firehose_delivery_stream.archive.arn}",
        "lambda": "${aws_lambda_function.f.arn}",
    }
    return {
        "resource": {
            "aws_s3_bucket": {"archive": {}},
            "aws_s3_bucket_lifecycle_configuration": {
                "archive": {
                    "bucket": "${aws_s3_bucket.archive.id}",
                    "rule": [{"status": "Enabled", "expiration": [{"days": archive_days}]}],
                }
            },
            "aws_kinesis_firehose_delivery_stream": {
                "archive": {"extended_s3_configuration": {"bucket_arn": "${aws_s3_bucket.archive.arn}"}}
            },
            "aws_cloudwatch_log_group": {"third_party": {"name": "/aws/lambda/x", "retention_in_days": retention}},
            "aws_cloudwatch_log_subscription_filter": {
                "archive_third_party": {
                    "log_group_name": "${aws_cloudwatch_log_group.third_party.name}",
                    "destination_arn": destination[to],
                    "filter_pattern": filter_pattern,
                }
            },
        }
    }


def test_a_log_group_archived_whole_through_firehose_is_excused_whoever_built_it():
    assert rules.archived_log_groups(log_group_config()["resource"]) == {"aws_cloudwatch_log_group.third_party"}


@pytest.mark.parametrize(
    "config",
    [
        log_group_config(filter_pattern="ERROR"),
        log_group_config(retention=7),
        log_group_config(to="lambda"),
        log_group_config(archive_days=90),
    ],
    ids=["only-some-events", "under-30-days", "not-to-an-archive", "archive-kept-under-a-year"],
)
def test_a_log_group_not_archived_whole_for_30_days_at_least_is_not_excused(config):
    assert rules.archived_log_groups(config["resource"]) == set()


def sqs_fed_config(*, dead_letter: bool = True, sns_invokes: bool = False) -> dict:
    queue = (
        {"redrive_policy": '{"deadLetterTargetArn":"${aws_sqs_queue.dlq.arn}","maxReceiveCount":5}'}
        if dead_letter
        else {}
    )
    config = {
        "resource": {
            "aws_sqs_queue": {"events": queue, "dlq": {}},
            "aws_lambda_function": {"sender": {}},
            "aws_lambda_event_source_mapping": {
                "m": {
                    "event_source_arn": "${aws_sqs_queue.events.arn}",
                    "function_name": "${aws_lambda_function.sender.arn}",
                }
            },
        }
    }
    if sns_invokes:
        config["resource"]["aws_sns_topic_subscription"] = {"s": {"endpoint": "${aws_lambda_function.sender.arn}"}}
    return config


def test_a_function_fed_by_a_queue_with_a_dead_letter_queue_is_excused():
    assert rules.sqs_fed_functions(sqs_fed_config()["resource"]) == {"aws_lambda_function.sender"}


def test_a_separate_redrive_policy_counts_as_the_queues_dead_letter_queue():
    config = sqs_fed_config(dead_letter=False)
    config["resource"]["aws_sqs_queue_redrive_policy"] = {
        "r": {"queue_url": "${aws_sqs_queue.events.url}", "redrive_policy": '{"deadLetterTargetArn":"x"}'}
    }
    assert rules.sqs_fed_functions(config["resource"]) == {"aws_lambda_function.sender"}


@pytest.mark.parametrize(
    "config",
    [sqs_fed_config(dead_letter=False), sqs_fed_config(sns_invokes=True)],
    ids=["queue-without-dead-letter-queue", "also-invoked-asynchronously-by-sns"],
)
def test_a_function_whose_failures_a_dlq_would_catch_is_not_excused(config):
    assert rules.sqs_fed_functions(config["resource"]) == set()


# -- a distribution's own entries ---------------------------------------------------------------


def plugin_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checkov-baseline.toml"
    path.write_text(text)
    return path


def test_a_distributions_entry_holds_wherever_the_plugin_is_enabled(tmp_path):
    (entry,) = load_plugin_baseline(
        plugin_file(tmp_path, SECRET_ENTRY.format(secret=SECRET)),
        OWNER,
        ["prod", "staging"],
        ["dev", "prod", "staging"],
        plugin="merchant-webhooks",
    )
    assert (entry.owner, entry.plugin, entry.environments, entry.resources) == (
        OWNER,
        "merchant-webhooks",
        ("prod", "staging"),
        (SECRET,),
    )
    assert entry.label == f"{OWNER} baseline entry 1 (CKV2_AWS_57)"


def test_more_entries_than_a_distributions_cap_are_refused_naming_it(tmp_path):
    text = "".join(SECRET_ENTRY.format(secret=f"{SECRET}{i}") for i in range(MAX_ENTRIES_PER_DISTRIBUTION + 1))
    with pytest.raises(
        ComplianceError, match=rf"^{re.escape(OWNER)}: 6 baseline entries in checkov-baseline.toml, at most 5"
    ):
        load_plugin_baseline(plugin_file(tmp_path, text), OWNER, ["prod"], ["prod"], plugin="merchant-webhooks")


def test_a_distributions_entry_without_a_reason_is_refused_naming_the_plugin(tmp_path):
    text = SECRET_ENTRY.format(secret=SECRET).replace("reason = ", "# reason = ")
    with pytest.raises(
        ComplianceError, match=rf"^{re.escape(OWNER)} checkov baseline checkov-baseline.toml entry 1 .* has no reason"
    ):
        load_plugin_baseline(plugin_file(tmp_path, text), OWNER, ["prod"], ["prod"], plugin="merchant-webhooks")


def test_a_distributions_entry_on_another_plugins_resource_is_a_problem_naming_both():
    entry = BaselineEntry(
        1,
        "CKV_AWS_116",
        ("aws_lambda_function.api_x",),
        ("prod",),
        "r" * 20,
        "req",
        owner=OWNER,
        plugin="merchant-webhooks",
    )
    config = {"resource": {"aws_lambda_function": {"api_x": {"//": {"metadata": {"path": "payments-prod/api/x"}}}}}}
    assert foreign_resources([entry], {"prod": config}) == [
        f"prod: {OWNER} baseline entry 1 (CKV_AWS_116) names aws_lambda_function.api_x, built by plugin 'api': "
        "a distribution excuses only its own resources"
    ]


def test_the_platforms_cap_counts_its_own_entries_not_a_distributions_nor_rules():
    platform = [BaselineEntry(i, "CKV_AWS_1", (f"a.p{i}",), ("prod",), "r" * 20, "req") for i in range(1, 13)]
    plugin = [BaselineEntry(i, "CKV_AWS_2", (f"a.m{i}",), ("prod",), "r" * 20, "req", owner=OWNER) for i in (1, 2, 3)]
    rule = [BaselineEntry(0, "CKV_AWS_338", ("a.lg",), ("prod",), "r" * 20, "req", rule="archived-log-group")]
    findings = [failed(e.check, e.resources[0]) for e in platform + plugin + rule]
    verdict = judge(Baseline(rule + plugin + platform, Path("x")), {"prod": findings})
    assert verdict.passed, verdict.problems
    assert verdict.excused["prod"]["rule 'archived-log-group' (CKV_AWS_338)"] == ["a.lg"]
    assert verdict.excused["prod"][f"{OWNER} baseline entry 2 (CKV_AWS_2)"] == ["a.m2"]


def test_a_reviewed_entry_for_what_a_rule_excuses_is_stale_naming_the_rule():
    rule = BaselineEntry(0, "CKV_AWS_338", ("a.lg",), ("prod",), "r" * 20, "req", rule="archived-log-group")
    reviewed = BaselineEntry(3, "CKV_AWS_338", ("a.lg",), ("prod",), "r" * 20, "req")
    verdict = judge(Baseline([rule, reviewed], Path("x")), {"prod": [failed("CKV_AWS_338", "a.lg")]})
    assert verdict.stale_entries == [
        "prod: stale baseline entry 3 (CKV_AWS_338): a.lg is excused by rule 'archived-log-group' (CKV_AWS_338) "
        "by construction; remove it"
    ]


# -- the gate, with checkov, on prod with the third-party plugin enabled ----------------------------


@pytest.fixture(scope="module")
def prod_with_webhooks(platform_config, tmp_path_factory, environment_synths):
    """prod with the plugin enabled, judged with dev (so an entry for what only dev builds, the
    connector's, is not stale for want of an environment building it)."""
    baseline = plugin_file(tmp_path_factory.mktemp("dist"), SECRET_ENTRY.format(secret=SECRET))
    prod, dev = platform_config.environment("prod"), platform_config.environment("dev")
    env = dataclasses.replace(prod, plugins=tuple(sorted({*prod.plugins, "merchant-webhooks"})))
    stack = synth(env.plugins, environment=env, extra_plugins={"merchant-webhooks": MerchantWebhooks(baseline)})
    stacks = {env.stack_name: stack, dev.stack_name: environment_synths["dev"]}
    found = scan_configs(
        [dev, env], {n: s.config for n, s in stacks.items()}, {n: s.built for n, s in stacks.items()}, REPO
    )
    return dataclasses.replace(platform_config, environments={**platform_config.environments, "prod": env}), found


def test_gate_passes_with_the_plugins_findings_excused_by_its_entry_and_by_rules(prod_with_webhooks):
    config, found = prod_with_webhooks
    verdict = verdict_of(config, found)
    assert verdict.passed, "\n".join(verdict.problems)
    excused = verdict.excused["prod"]
    assert excused["plugin 'merchant-webhooks' (distribution <in-process> 0) baseline entry 1 (CKV2_AWS_57)"] == [
        SECRET
    ]
    assert LOG_GROUP in excused["rule 'archived-log-group' (CKV_AWS_338)"]
    assert SENDER in excused["rule 'sqs-fed-function' (CKV_AWS_116)"]


def test_gate_output_says_whose_entry_excused_what(prod_with_webhooks, capsys):
    config, found = prod_with_webhooks
    _gate(config, found, update=False)
    out = capsys.readouterr().out
    assert (
        f"  prod: plugin 'merchant-webhooks' (distribution <in-process> 0) baseline entry 1 (CKV2_AWS_57) excused 1: {SECRET}"
        in out
    )
    assert "  prod: rule 'sqs-fed-function' (CKV_AWS_116) excused 2: " in out


def test_without_the_distributions_entry_the_gate_fails_naming_the_finding(prod_with_webhooks):
    config, found = prod_with_webhooks
    baseline = full_baseline(config, found)
    without = Baseline([e for e in baseline.entries if e.plugin != "merchant-webhooks"], baseline.path)
    assert judge(without, found.failed()).problems == [
        f"prod: new checkov finding CKV2_AWS_57 on {SECRET}: fix it, or add a reviewed baseline entry with its reason"
    ]


def test_updating_the_platform_baseline_leaves_out_what_rules_and_distributions_decide(prod_with_webhooks, tmp_path):
    config, found = prod_with_webhooks
    (tmp_path / "compliance").mkdir()
    platform_file = tmp_path / "compliance" / "checkov-baseline.toml"
    platform_file.write_text((REPO / "compliance" / "checkov-baseline.toml").read_text())
    before = platform_file.read_text()
    _gate(dataclasses.replace(config, path=tmp_path / "environments.toml"), found, update=True)
    after = platform_file.read_text()
    assert "CKV_AWS_338" not in after and SECRET not in after and SENDER not in after
    assert tomllib.loads(after) == tomllib.loads(before)
