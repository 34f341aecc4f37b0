"""Helpers of the audit plugin tests: the plugin alone on stub keys, plus a plugin that
registers a log group for the archive (as api and network do)."""

from __future__ import annotations

from typing import Any

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.testing import SynthesizedStack, stub_provider, synth

STUB_KEYS = (keys.AUDIT_QUEUE, keys.NETWORK, keys.RUNTIME_PACKAGE, keys.NOTIFICATIONS_TOPIC)


class LogSource:
    """Stands in for the api and network plugins: one log group, registered for the archive."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(name="logsource", description="test log group for the archive")

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        group = aws.cloudwatch_log_group.CloudwatchLogGroup(
            ctx.scope,
            "app_logs",
            name=f"/aws/app/{ctx.naming.name('app')}",
            retention_in_days=30,
            kms_key_id=ctx[keys.KMS_KEY].arn,
        )
        ctx.monitoring.log_group("app", log_group_name=group.name, log_group_arn=group.arn)


class UnregisteredLogSource:
    """A plugin that makes a log group and never registers it (as the API's execution log group
    once was): the archive must take it all the same."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(name="quietsource", description="test log group nobody registered")

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        aws.cloudwatch_log_group.CloudwatchLogGroup(
            ctx.scope,
            "quiet_log_group",
            name=f"/aws/quiet/{ctx.naming.name('quiet')}",
            retention_in_days=30,
            kms_key_id=ctx[keys.KMS_KEY].arn,
        )


STUBS = stub_provider("stubs", STUB_KEYS)
LOG_SOURCE = LogSource()
UNREGISTERED_LOG_SOURCE = UnregisteredLogSource()


def audit_synth(settings: dict[str, Any] | None = None, *, plugins: tuple[str, ...] = ("audit",)) -> SynthesizedStack:
    return synth(
        [p for p in plugins if p != "quietsource"],
        extra_plugins={"stubs": STUBS, "logsource": LOG_SOURCE}
        | ({"quietsource": UNREGISTERED_LOG_SOURCE} if "quietsource" in plugins else {}),
        settings={"audit": settings} if settings else None,
    )


def ref(stack: SynthesizedStack, resource_type: str, attribute: str = "arn") -> str:
    (logical_id,) = stack.resources(resource_type)
    return f"${{{resource_type}.{logical_id}.{attribute}}}"
