"""``payments-platform local fault add | list | clear``: the run's fault rules (core/local/faults.py).

local fault add dynamodb:TransactWriteItems --fail-after internal --count 3
local fault add sqs:SendMessage --error throttling --probability 0.2
local fault add dynamodb:UpdateItem --contains 'REMOVE dispatch_pending' --stall 5000
local fault add function:payment-processor-* --kill --delay-ms 150 --count 2
local fault add function:transaction-reconciler-* --fail-cold-start
local fault list [--json]
local fault clear [ID ...]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from payments_platform.core.cli.registry import Commands
from payments_platform.core.local.faults import (
    FUNCTION_SERVICE,
    FaultError,
    FaultRule,
    add_fault,
    clear_faults,
    hits_by_rule,
    read_rules,
)


def register(actions: Commands) -> None:
    """``local fault`` and its verbs, under ``local``'s actions."""
    _, verbs = actions.add_group(
        "fault", help="make the running deployment's AWS calls or containers fail, on purpose", dest="fault_command"
    )
    add = verbs.add("add", help="add a fault rule (takes effect at the next matching call)", handler=cmd_fault_add)
    add.add_argument("target", help="SERVICE:ACTION (dynamodb:TransactWriteItems, sqs:*) or function:NAME (a glob)")
    effect = add.add_mutually_exclusive_group(required=True)
    effect.add_argument(
        "--error", metavar="ERROR", help="fail without performing: throttling, internal, access-denied or a code"
    )
    effect.add_argument(
        "--fail-after", metavar="ERROR", help="perform the call (a write commits), then fail with ERROR"
    )
    effect.add_argument("--stall", metavar="MS", type=_non_negative, help="perform the call after MS milliseconds")
    effect.add_argument(
        "--kill", action="store_true", help="kill the function's container --delay-ms into an invocation"
    )
    effect.add_argument("--fail-cold-start", action="store_true", help="the function's next cold start fails")
    add.add_argument("--resource", default="*", help="glob on the table name, queue URL, topic ARN, bucket/key")
    add.add_argument(
        "--contains", default="", help="a text the request body (a function's invocation payload) must hold"
    )
    add.add_argument("--status", type=int, default=0, help="HTTP status of a coded error (default: the error's own)")
    add.add_argument(
        "--delay-ms", type=_non_negative, default=0, help="--fail-after: silence before the error; --kill: when"
    )
    add.add_argument("--count", type=int, help="apply to this many matching calls (default: all)")
    add.add_argument("--probability", type=float, default=1.0, help="apply to each matching call with this probability")
    listing = verbs.add("list", help="the rules and how often each has hit", handler=cmd_fault_list)
    listing.add_argument("--json", action="store_true", help="machine-readable")
    clear = verbs.add("clear", help="remove rules (all unless IDs are named)", handler=cmd_fault_clear)
    clear.add_argument("ids", nargs="*", metavar="ID")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def rule_from_args(args: argparse.Namespace) -> FaultRule:
    service, _, action = args.target.partition(":")
    if not service or not action:
        raise FaultError(f"target {args.target!r}: expected SERVICE:ACTION or function:NAME")
    if args.kill or args.fail_cold_start:
        if service != FUNCTION_SERVICE:
            raise FaultError(f"--kill and --fail-cold-start apply to functions: function:NAME, not {args.target!r}")
        kind = "kill" if args.kill else "cold_start"
        return FaultRule(
            kind,
            FUNCTION_SERVICE,
            resource=action,
            delay_ms=args.delay_ms,
            count=args.count,
            probability=args.probability,
        )
    if service == FUNCTION_SERVICE:
        raise FaultError("a function takes --kill or --fail-cold-start; its AWS calls are SERVICE:ACTION targets")
    kind, error, delay = "stall", "", args.stall
    if args.error is not None:
        kind, error, delay = "error", args.error, 0
    elif args.fail_after is not None:
        kind, error, delay = "error_after", args.fail_after, args.delay_ms
    return FaultRule(
        kind,
        service,
        action,
        resource=args.resource,
        contains=args.contains,
        error=error,
        status=args.status,
        delay_ms=delay or 0,
        count=args.count,
        probability=args.probability,
    )


def _run_dir(args: argparse.Namespace) -> Path:
    from payments_platform.core.local.run_record import default_run

    return default_run(args.config).run_dir


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_fault_add(args: argparse.Namespace) -> int:
    return add_rule(args, _run_dir(args), _say)


def cmd_fault_list(args: argparse.Namespace) -> int:
    return list_rules(args, _run_dir(args), _say)


def cmd_fault_clear(args: argparse.Namespace) -> int:
    return clear_rules(args, _run_dir(args), _say)


def add_rule(args: argparse.Namespace, run_dir: Path, say: Callable[[str], None]) -> int:
    rule = add_fault(run_dir, rule_from_args(args))
    say(f"{rule.id}  {rule.describe()}")
    if not (run_dir / "run.json").exists():
        say("no local run is up: the rule applies once `payments-platform local up` serves")
    return 0


def clear_rules(args: argparse.Namespace, run_dir: Path, say: Callable[[str], None]) -> int:
    removed = clear_faults(run_dir, args.ids or None)
    say(f"cleared {len(removed)} fault rule(s)" + (f": {', '.join(r.id for r in removed)}" if removed else ""))
    return 0


def list_rules(args: argparse.Namespace, run_dir: Path, say: Callable[[str], None]) -> int:
    rules, hits = read_rules(run_dir), hits_by_rule(run_dir)
    if args.json:
        say(json.dumps([{**asdict(rule), "hits": hits[rule.id]} for rule in rules], indent=2))
    elif not rules:
        say("no fault rules (hits so far are in faults.log)" if hits else "no fault rules")
    for rule in rules if not args.json else ():
        say(f"{rule.id}  {rule.describe()}  — hit {hits[rule.id]}×")
    return 0
