"""End to end: the reconciler's two alarms, built by the api plugin until they moved onto
``ctx.monitoring`` (created by observability), are kept -- not replaced -- by Terraform.

Real Terraform and provider against the emulator: the ``local`` environment is synthesized;
the alarms and what they reference (topic, platform key, data sources) are applied as they were
before the move -- each alarm at the ``from`` address of its moved block, no moved blocks, which
is what the earlier synth held (tools/synth_diff.py compares the two synths) -- then planned with
the current configuration over that state.

Run alone: .venv/bin/python -m pytest tests/e2e/test_reconciler_alarm_move.py -q
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO, output_tail

from payments_platform.core.host.config import load_config
from payments_platform.core.host.synth import synthesize
from payments_platform.core.ops.plan_summary import summarize
from payments_platform.core.ops.terraform import Terraform

pytestmark = pytest.mark.terraform

TERRAFORM_TIMEOUT_S = 300
_REFERENCE = re.compile(r"\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)")


def _body(config: dict[str, Any], address: str) -> dict[str, Any]:
    parts = address.split(".")
    return config["data"][parts[1]][parts[2]] if parts[0] == "data" else config["resource"][parts[0]][parts[1]]


def only(config: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """``config`` cut down to ``roots`` and everything they reference, with its provider and backend."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        address = todo.pop()
        if address in keep:
            continue
        keep.add(address)
        body = _body(config, address)
        for match in _REFERENCE.finditer(json.dumps(body)):
            todo.append(f"{'data.' if match.group(1) else ''}{match.group(2)}.{match.group(3)}")
        todo.extend(body.get("depends_on", []))
    # State beside the configuration, in the test's own directory.
    cut: dict[str, Any] = {
        "provider": config["provider"],
        "terraform": {**config["terraform"], "backend": {"local": {"path": "terraform.tfstate"}}},
    }
    for address in sorted(keep):
        parts = address.split(".")
        kind, rtype, name = ("data", parts[1], parts[2]) if parts[0] == "data" else ("resource", parts[0], parts[1])
        cut.setdefault(kind, {}).setdefault(rtype, {})[name] = config[kind][rtype][name]
    return cut


@pytest.fixture(scope="module")
def configs(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """(before, after, the synthesized stack): the moved alarms' part of `local`, at their old
    addresses and at the new, and the directory holding its assets."""
    (local,) = load_config(REPO / "environments.toml").select(["local"])
    env = dataclasses.replace(local, aws_endpoint=moto_endpoint)
    out = tmp_path_factory.mktemp("alarm-move") / "cdktf.out"
    result = synthesize([env], out)
    config = result.configs[env.stack_name]
    moved = config["moved"]
    assert {block["to"].split(".")[1].split("_alarm_")[1].rsplit("_", 1)[0] for block in moved} == {
        "transaction_reconciler_stranded",
        "transaction_reconciler_quarantined",
    }
    after = only(config, [block["to"] for block in moved])
    after["moved"] = moved
    before = copy.deepcopy(after)
    del before["moved"]
    for block in moved:
        rtype, new_name = block["to"].split(".")
        _, old_name = block["from"].split(".")
        before["resource"][rtype][old_name] = before["resource"][rtype].pop(new_name)
    return before, after, out / "stacks" / env.stack_name


def test_terraform_keeps_both_alarms_where_they_moved(configs, tmp_path):
    before, after, synthesized = configs
    terraform = Terraform.locate(tmp_path)
    stack = tmp_path / "stack"
    # The stack's assets come along: the provider reaches the emulator through the AWS SDK profile
    # file among them (core/host/emulator_profile.py), named by a path relative to the stack.
    shutil.copytree(synthesized / "assets", stack / "assets")
    (stack / "cdk.tf.json").write_text(json.dumps(before))
    terraform.init(stack, backend=True)

    def ok(*args: str) -> str:
        result = terraform.run([args[0], "-input=false", "-no-color", *args[1:]], stack, timeout=TERRAFORM_TIMEOUT_S)
        assert result.returncode == 0, f"terraform {args[0]} failed:\n{output_tail(result)}"
        return result.stdout

    ok("apply", "-auto-approve")
    try:
        (stack / "cdk.tf.json").write_text(json.dumps(after))
        ok("plan", "-out=move.tfplan")
        plan = json.loads(terraform.run(["show", "-json", "move.tfplan"], stack).stdout)
        changes = {change["address"]: change for change in plan["resource_changes"]}
        for block in after["moved"]:
            change = changes[block["to"]]
            assert change.get("previous_address") == block["from"]
            assert change["change"]["actions"] == ["no-op"], f"{block['to']}: {change['change']['actions']}"
        assert all(change["change"]["actions"] == ["no-op"] for change in changes.values()), {
            address: change["change"]["actions"] for address, change in changes.items()
        }
        # What `payments-platform plan` shows the reviewer.
        summary = summarize(plan, after, "payments-local", plugins=["api", "observability"])
        assert not summary.has_changes
        assert sorted(summary.moves) == sorted((block["from"], block["to"]) for block in after["moved"])
        ok("apply", "move.tfplan")
        state = json.loads(terraform.run(["show", "-json"], stack).stdout)
        addresses = {r["address"] for r in state["values"]["root_module"]["resources"]}
        assert {block["to"] for block in after["moved"]} <= addresses
        assert not {block["from"] for block in after["moved"]} & addresses
    finally:
        terraform.run(["destroy", "-auto-approve", "-input=false", "-no-color"], stack, timeout=TERRAFORM_TIMEOUT_S)
        shutil.rmtree(stack / ".terraform", ignore_errors=True)
