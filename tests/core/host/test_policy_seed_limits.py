"""The seed's limits as policy rules (issue #18): every plugin's functions, queues and log groups,
first- or third-party, fail synth with the rule, the resource and the plugin named."""

from __future__ import annotations

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.errors import PolicyViolation
from payments_platform.core.host.policy import PolicyInput, check
from payments_platform.core.testing import synth

TAGS = {"platform": "payments-platform", "environment": "test"}
PRIVATE = frozenset({"${aws_subnet.private_a.id}", "${aws_subnet.private_b.id}"})
POLICY = PolicyInput("test", TAGS, frozenset(), frozenset(), PRIVATE)
PATH = "payments-test/vendor/worker"

GOOD_FUNCTION = {
    "memory_size": 512,
    "reserved_concurrent_executions": 2,
    "tracing_config": {"mode": "Active"},
    "vpc_config": {"subnet_ids": sorted(PRIVATE), "security_group_ids": ["sg"]},
}


def function_violations(**changes) -> list[str]:
    body = {**GOOD_FUNCTION, **changes}
    found = check(
        {"resource": {"aws_lambda_function": {"worker": {"//": {"metadata": {"path": PATH}}, **body}}}}, POLICY
    )
    return [v for v in found if "PP-LAMBDA-LOG-GROUP" not in v]  # no function_name: that rule is not under test


def test_compliant_function_passes():
    assert function_violations() == []


def test_function_under_512_mb_is_flagged_with_plugin_and_resource():
    (v,) = function_violations(memory_size=256)
    assert v == (
        f"[PP-LAMBDA-MEMORY] aws_lambda_function.worker (plugin 'vendor', path {PATH}): "
        "memory_size is 256; at least 512 MB"
    )


def test_function_without_memory_size_is_flagged_as_lambdas_default():
    (v,) = function_violations(memory_size=None)
    assert "[PP-LAMBDA-MEMORY]" in v and "128 MB" in v


@pytest.mark.parametrize("reserved", [None, 0, -1])
def test_function_without_reserved_concurrency_is_flagged(reserved):
    (v,) = function_violations(reserved_concurrent_executions=reserved)
    assert "[PP-LAMBDA-CONCURRENCY]" in v


@pytest.mark.parametrize("tracing", [None, {"mode": "PassThrough"}])
def test_function_without_active_tracing_is_flagged(tracing):
    (v,) = function_violations(tracing_config=tracing)
    assert "[PP-LAMBDA-XRAY]" in v


def test_function_outside_a_vpc_is_flagged():
    (v,) = function_violations(vpc_config=None)
    assert "[PP-LAMBDA-PRIVATE-SUBNETS]" in v and "no vpc_config" in v


def test_function_in_other_subnets_is_flagged():
    (v,) = function_violations(vpc_config={"subnet_ids": ["${aws_subnet.public_a.id}"], "security_group_ids": ["sg"]})
    assert "[PP-LAMBDA-PRIVATE-SUBNETS]" in v and "public_a" in v


def queue(body: dict) -> list[str]:
    return check({"resource": {"aws_sqs_queue": {"q": {"//": {"metadata": {"path": PATH}}, **body}}}}, POLICY)


def test_fifo_queue_without_content_based_deduplication_is_flagged():
    (v,) = queue({"fifo_queue": True, "kms_master_key_id": "k"})
    assert v.startswith(f"[PP-SQS-FIFO-DEDUP] aws_sqs_queue.q (plugin 'vendor', path {PATH})")


def test_fifo_queue_with_content_based_deduplication_passes():
    assert queue({"fifo_queue": True, "content_based_deduplication": True, "kms_master_key_id": "k"}) == []


def test_standard_queue_needs_no_deduplication():
    assert queue({"kms_master_key_id": "k"}) == []


class VendorWorker:
    """A third-party plugin whose function breaks the seed's limits, unless told which rule to waive."""

    def __init__(self, *, memory: int = 512, in_vpc: bool = True, waive_vpc: bool = False):
        self.memory, self.in_vpc, self.waive_vpc = memory, in_vpc, waive_vpc

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="vendor", description="a function", requires=(keys.KMS_KEY, keys.NETWORK))

    @hookimpl
    def payments_resources(self, ctx):
        kms, network = ctx[keys.KMS_KEY], ctx[keys.NETWORK]
        name = ctx.naming.name("vendor-worker", kind="lambda")
        group = aws.cloudwatch_log_group.CloudwatchLogGroup(
            ctx.scope, "worker_logs", name=f"/aws/lambda/{name}", retention_in_days=30, kms_key_id=kms.arn
        )
        role = ctx.roles.role("vendor-worker", description="vendor worker")
        function = aws.lambda_function.LambdaFunction(
            ctx.scope,
            "worker",
            function_name=name,
            role=role.arn,
            filename="worker.zip",
            handler="worker.handler",
            runtime="python3.12",
            memory_size=self.memory,
            reserved_concurrent_executions=1,
            tracing_config={"mode": "Active"},
            vpc_config=(
                {
                    "subnet_ids": list(network.private_subnet_ids),
                    "security_group_ids": [network.lambda_security_group_id],
                }
                if self.in_vpc
                else {"subnet_ids": list(network.public_subnet_ids), "security_group_ids": []}
            ),
            depends_on=[group],
        )
        if self.waive_vpc:
            ctx.policy.suppress(function, "PP-LAMBDA-PRIVATE-SUBNETS", "calls a partner over the internet via NAT")


PLUGINS = ["network"]


def test_third_party_function_under_512_mb_fails_synth_naming_plugin_and_resource():
    with pytest.raises(PolicyViolation) as excinfo:
        synth(PLUGINS, extra_plugins={"vendor": VendorWorker(memory=256)}, cache=False)
    (violation,) = excinfo.value.violations
    assert "[PP-LAMBDA-MEMORY] aws_lambda_function.vendor_worker_" in violation
    assert "(plugin 'vendor', path payments-test/vendor/worker)" in violation


def test_third_party_function_in_public_subnets_fails_synth():
    with pytest.raises(PolicyViolation) as excinfo:
        synth(PLUGINS, extra_plugins={"vendor": VendorWorker(in_vpc=False)}, cache=False)
    (violation,) = excinfo.value.violations
    assert "[PP-LAMBDA-PRIVATE-SUBNETS]" in violation and "network_public_subnet" in violation


def test_a_declared_reason_lets_a_function_leave_the_private_subnets():
    stack = synth(PLUGINS, extra_plugins={"vendor": VendorWorker(in_vpc=False, waive_vpc=True)}, cache=False)
    assert len(stack.resources("aws_lambda_function")) == 1


@pytest.mark.parametrize("plugins", [["network", "storage", "messaging", "api", "observability", "audit"]])
def test_first_party_plugins_meet_the_seed_limits(plugins):
    """The audit archiver (was 256 MB) and the audit dead-letter queue (had no deduplication)."""
    stack = synth(plugins)
    assert all(f["memory_size"] >= 512 for f in stack.resources("aws_lambda_function").values())
    fifo = [q for q in stack.resources("aws_sqs_queue").values() if q.get("fifo_queue")]
    assert len(fifo) == 2 and all(q["content_based_deduplication"] is True for q in fifo)
