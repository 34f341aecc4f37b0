"""The capacity table of every environment, read from its synth (docs/CAPACITY.md).

Per Lambda-backed method: the function's reserved concurrency N, the p99 it is planned with (its
``planned-p99-ms`` tag, and where the figure comes from), the capacity that gives (Little's law:
N ÷ p99 requests per second), what the method, the stage and each client's usage plan admit, and
what the stack needs of the account's Lambda concurrency quota. Every figure is the synthesized
Terraform's, computed by the rules of core/host/policy.py (PP-CAPACITY), so the table cannot say what
the deployment does not.

    python -m payments_platform.core.ops.capacity_table [--config environments.toml] [--write docs/CAPACITY.md]

(``make capacity-docs``; a test fails while the file is stale.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from payments_platform.core.host import policy

HEADER = """# Capacity per environment

Generated from each environment's synth by `make capacity-docs` (`python -m
payments_platform.core.ops.capacity_table --write docs/CAPACITY.md`); a test fails while it is stale.

How it is sized (README.md "Running it locally", BENCHMARKS.md "Capacity"): each API function states the p99
duration it is planned with (`service_time` in environments.toml, with where the figure comes from; it is
tagged on the function as `planned-p99-ms`). By Little's law (in flight = rate × duration) N reserved
executions each busy for p99 serve **N ÷ p99** requests per second: that is the method's capacity, its
method-level throttle rate, and its burst is N (what can run at once). An environment with `peak_rps`
reserves N = ⌈peak × p99⌉ per function. Each client's usage plan admits its share of the tightest method
(`client_share`, by default 1 ÷ the number of clients), so one client cannot take another's capacity.
Above a method's throttle API Gateway answers 429 `rate_limited`; above what Lambda runs at once, 503
`service_unavailable` (`INTEGRATION_FAILURE`); both with `Retry-After`. `payments-platform synth` warns
(PP-CAPACITY) wherever the figures disagree, saying what to change.

## Raising the account's Lambda concurrency quota

Reserved concurrency is free, but it comes out of the account's **Lambda concurrent executions** quota
(per region; 1,000 by default, of which AWS keeps 100 unreserved). Where an environment needs more,
`payments-platform synth` and `plan` say so in one line with the figure. Before its first deploy, in the
environment's account and region: Service Quotas → AWS services → AWS Lambda → *Concurrent executions*
(quota code `L-B99A9384`) → Request increase at account level, for at least that figure; or
`aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384
--desired-value <figure> --region <region>`. Until it is granted, `terraform apply` fails on the
functions' reservation (Lambda refuses a reservation that leaves fewer than 100 unreserved).
"""


def _n(value: float) -> str:
    return f"{value:,g}" if value < 1e6 else f"{value:,.0f}"


def render_environment(name: str, description: str, config: Mapping[str, Any]) -> str:
    resources = policy.iter_resources(config)
    capacities = policy.method_capacities(resources)
    stage = policy.stage_throttle(resources)
    lines = [f"## {name}", "", description, ""]
    lines.append(f"Stage throttle (`*/*`, every method without its own): {_n(stage.rate)} rps, burst {stage.burst:,}.")
    clients = max((c.clients for c in capacities), default=0)
    client = next((c.client_throttle for c in capacities if c.client_throttle is not None), None)
    if client is not None and clients:
        lines.append(
            f"Per client (usage plan, each of {clients} API key(s)): {_n(client.rate)} rps, burst {client.burst:,}."
        )
    lines += [
        "",
        "| method | function | reserved concurrency N | planned p99 | capacity N ÷ p99 | method throttle (rate / burst) | planned p99 from |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for c in capacities:
        p99 = f"{_n(c.planned_p99_ms)} ms" if c.planned_p99_ms is not None else f"none: {c.timeout_s} s timeout"
        throttle = c.method_throttle
        lines.append(
            f"| `{c.route}` | `{c.function}` | {c.reserved_concurrency or 0:,} | {p99} | {_n(c.served_rate)} rps "
            f"| {_n(throttle.rate)} rps / {throttle.burst:,} ({throttle.by}) | {c.planned_source or '-'} |"
        )
    reserved = policy.reserved_concurrency_total(resources)
    needed = policy.concurrency_quota_needed(resources)
    quota = (
        f"more than the default {policy.LAMBDA_DEFAULT_CONCURRENCY_QUOTA:,}: request it (above)"
        if needed > policy.LAMBDA_DEFAULT_CONCURRENCY_QUOTA
        else f"within the default {policy.LAMBDA_DEFAULT_CONCURRENCY_QUOTA:,}"
    )
    lines += [
        "",
        f"Lambda concurrent executions: the stack reserves {reserved:,} (every function), so the account needs "
        f"{needed:,} with the {policy.LAMBDA_UNRESERVED_MINIMUM} AWS keeps unreserved -- {quota}.",
    ]
    warnings = policy.warnings(config)
    if warnings:
        lines += ["", "What synth warns about here:", ""]
        lines += [f"- {w.split(': ', 1)[1] if w.startswith('[PP-CAPACITY] aws_') else w}" for w in warnings]
    return "\n".join(lines) + "\n"


def render_markdown(environments: Sequence[tuple[str, str, Mapping[str, Any]]]) -> str:
    """``environments``: (name, description, synthesized config) in the order to show them."""
    return HEADER + "".join(f"\n{render_environment(*env)}" for env in environments)


def synthesized_environments(config_path: str | Path) -> list[tuple[str, str, dict[str, Any]]]:
    from payments_platform.core.host.config import load_config
    from payments_platform.core.host.synth import synthesize

    platform = load_config(config_path)
    environments = platform.select(sorted(platform.environments))
    with tempfile.TemporaryDirectory(prefix="capacity-") as scratch:
        result = synthesize(environments, Path(scratch) / "cdktf.out")
    return [(env.name, env.description, result.configs[env.stack_name]) for env in environments]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="environments.toml", help="the environments file (default: %(default)s)")
    parser.add_argument("--write", type=Path, metavar="FILE", help="write the table here (default: stdout)")
    args = parser.parse_args(argv)
    text = render_markdown(synthesized_environments(args.config))
    if args.write:
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
