"""Observability plugin: the payments dashboard and the alarms that page someone.

Requires nothing. Everything is built in ``finalize`` from what other plugins registered
with ``ctx.monitoring`` (functions, tables, APIs, queues; dead-letter queues alarm; any plugin's
own ``metric_widget`` graphs and ``alarm``s) — no resource name is written here, so a renamed
or added function shows up on its own.

Uses, when an enabled plugin provides them:

* ``keys.NOTIFICATIONS_TOPIC`` — alarms notify it on ALARM and on OK. Without it (messaging
  disabled) the alarms are still created, change state and show on the console, but have
  no actions: nobody is notified. The topic's provider lets CloudWatch publish to it and
  use its encryption key (messaging does both); this plugin does not touch either policy.
  Alarms publish no message attributes, so a plugin subscribed through the topic
  (``subscribe_queue`` / ``subscribe_function``, filtering on the events' type) never
  receives one; the environment's email subscriptions receive both.
* ``keys.REST_API`` — not read; declared so observability runs after the API plugin.

Function log groups belong to the plugin that creates the function (PP-LAMBDA-LOG-GROUP
allows exactly one); this plugin creates none.
"""

from __future__ import annotations

from payments_platform.core import PluginContext, PluginDeclaration, aws, hookimpl, keys

from .alarms import alarm_specs, create_alarms
from .dashboard import build_dashboard, to_json
from .settings import ObservabilitySettings


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="observability",
        description=(
            "CloudWatch dashboard and alarms for every registered function, table, API and queue, "
            "and for other plugins' registered metrics"
        ),
        uses=(keys.NOTIFICATIONS_TOPIC, keys.REST_API),
        settings=ObservabilitySettings,
        emulated_services=("cloudwatch",),
    )


@hookimpl
def payments_finalize(ctx: PluginContext) -> None:
    settings: ObservabilitySettings = ctx.settings
    monitoring = ctx.monitoring

    dashboard_name = ctx.naming.name("payments", kind="dashboard")
    body = build_dashboard(
        functions=monitoring.functions,
        tables=monitoring.tables,
        apis=monitoring.apis,
        queues=monitoring.queues,
        metric_widgets=monitoring.metric_widgets,
        region=ctx.aws.service_region,
    )
    aws.cloudwatch_dashboard.CloudwatchDashboard(
        ctx.scope, "dashboard", dashboard_name=dashboard_name, dashboard_body=to_json(body)
    )

    topic = ctx.get(keys.NOTIFICATIONS_TOPIC)
    actions = [topic.arn] if topic is not None else []
    specs = alarm_specs(
        functions=monitoring.functions,
        apis=monitoring.apis,
        queues=monitoring.queues,
        registered=monitoring.alarms,
        error_threshold=settings.error_threshold,
        period=settings.alarm_period_seconds,
    )
    for alarm, spec in zip(create_alarms(ctx, specs, actions=actions), specs):
        ctx.compliance.evidence(
            "12.10.1",
            alarm,
            attributes=("alarm_actions", "metric_name", "threshold"),
            note=f"{spec.base_name}: notifies the responders' topic on ALARM and on OK",
        )

    ctx.outputs.add("dashboard_name", dashboard_name, description="CloudWatch dashboard of the payment API")
