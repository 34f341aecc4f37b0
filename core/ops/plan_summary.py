"""A Terraform plan as reviewers read it: changes per plugin, destructive stateful changes first.

Input is ``terraform show -json <planfile>`` and the synthesized config (whose ``//`` metadata
maps each resource address to its construct path, and so to the plugin that made it). The
JSON this module writes carries no sensitive value: Terraform puts secrets in clear into its
plan JSON (marked in ``*_sensitive``); they are masked here, so the summary can be a CI
artifact (PCI DSS 3.5: the card-fingerprint secret never leaves the state).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Resources that hold data or the keys to it: replacing or destroying one loses it.
# Log groups hold the audit trail (PCI DSS 10.5.1 retention).
STATEFUL_TYPES = frozenset(
    {
        "aws_dynamodb_table",
        "aws_sqs_queue",
        "aws_sns_topic",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_secretsmanager_secret_version",
        "aws_s3_bucket",
        "aws_cloudwatch_log_group",
    }
)
KINDS = ("add", "change", "replace", "destroy")
MASK = "(sensitive)"
UNKNOWN_PLUGIN = "(unknown)"


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    plugin: str
    construct_path: str
    kind: str  # add | change | replace | destroy
    attributes: tuple[str, ...] = ()  # changed top-level attributes (change/replace), names only
    replace_because: tuple[str, ...] = ()

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES

    @property
    def dangerous(self) -> bool:
        return self.stateful and self.kind in ("replace", "destroy")

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.type,
            "plugin": self.plugin,
            "construct_path": self.construct_path,
            "kind": self.kind,
            "stateful": self.stateful,
            "attributes": list(self.attributes),
            "replace_because": list(self.replace_because),
        }


@dataclass
class PlanSummary:
    stack: str
    mode: str  # "plan" or "drift"
    changes: list[ResourceChange] = field(default_factory=list)
    # (previous address, address) of each resource a `moved` block keeps: same object, new name.
    moves: list[tuple[str, str]] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def dangerous(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.dangerous]

    def by_plugin(self) -> dict[str, Counter[str]]:
        counts: dict[str, Counter[str]] = {}
        for change in self.changes:
            counts.setdefault(change.plugin, Counter())[change.kind] += 1
        return dict(sorted(counts.items()))

    def totals(self) -> Counter[str]:
        return Counter(c.kind for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "mode": self.mode,
            "has_changes": self.has_changes,
            "totals": {kind: self.totals()[kind] for kind in KINDS},
            "by_plugin": {p: {kind: c[kind] for kind in KINDS} for p, c in self.by_plugin().items()},
            "dangerous": [c.address for c in self.dangerous],
            "changes": [c.to_json() for c in self.changes],
            "moved": [{"from": old, "to": new} for old, new in self.moves],
        }

    def render(self) -> str:
        moved = [f"  moved    {old} -> {new} (kept, not replaced)" for old, new in self.moves]
        if not self.changes:
            if self.mode == "drift":
                return f"no drift: {self.stack} matches its state"
            return "\n".join([f"no changes: {self.stack} matches its configuration", *moved])
        lines: list[str] = []
        if self.dangerous:
            lines.append(
                f"!!! {len(self.dangerous)} STATEFUL RESOURCE(S) WILL BE REPLACED OR DESTROYED: their data is lost !!!"
            )
            for change in self.dangerous:
                why = f" (forced by {', '.join(change.replace_because)})" if change.replace_because else ""
                lines.append(
                    f"!!!   {change.kind.upper():<8} {change.address} [{change.plugin}: {change.construct_path}]{why}"
                )
            lines.append("")
        if self.mode == "drift":
            lines.append(f"drift in {self.stack}: {len(self.changes)} resource(s) changed outside Terraform")
            for change in self.changes:
                what = "deleted" if change.kind == "destroy" else f"changed: {', '.join(change.attributes) or '?'}"
                lines.append(f"  {change.plugin:<14} {change.address} {what}")
            return "\n".join(lines)
        lines.append(f"plan for {self.stack}, by plugin:")
        lines.append(f"  {'plugin':<14}" + "".join(f"{kind:>9}" for kind in KINDS))
        for plugin, counts in self.by_plugin().items():
            lines.append(f"  {plugin:<14}" + "".join(f"{counts[kind]:>9}" for kind in KINDS))
        for change in self.changes:
            if change.kind in ("change", "replace"):
                lines.append(f"  {change.kind:<8} {change.address}: {', '.join(change.attributes) or '?'}")
        lines.extend(moved)
        totals = self.totals()
        lines.append(
            f"{totals['add']} to add, {totals['change']} to change, {totals['replace']} to replace, {totals['destroy']} to destroy"
        )
        return "\n".join(lines)


def construct_paths(config: Mapping[str, Any]) -> dict[str, str]:
    """Resource address → construct path, from the synthesized config's metadata."""
    return {
        f"{rtype}.{logical_id}": body.get("//", {}).get("metadata", {}).get("path", "")
        for rtype, items in (config.get("resource") or {}).items()
        for logical_id, body in items.items()
    }


def plugin_of(address: str, path: str, plugins: Iterable[str]) -> str:
    if path:
        parts = path.split("/")
        return parts[1] if len(parts) > 2 else UNKNOWN_PLUGIN
    # A resource being destroyed is no longer in the config: its logical id starts with the
    # construct path (cdktf allowSepCharsInLogicalIds), so its plugin is the longest match.
    logical_id = address.split(".", 1)[-1]
    matches = [p for p in plugins if logical_id.startswith(f"{p}_")]
    return max(matches, key=len) if matches else UNKNOWN_PLUGIN


def kind_of(actions: list[str]) -> str | None:
    if actions == ["create"]:
        return "add"
    if actions == ["update"]:
        return "change"
    if actions == ["delete"]:
        return "destroy"
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    return None  # no-op, read


def summarize(
    plan: Mapping[str, Any], config: Mapping[str, Any], stack: str, *, plugins: Iterable[str], mode: str = "plan"
) -> PlanSummary:
    """Summarize ``terraform show -json`` output: planned changes, or (mode "drift") what a
    refresh-only plan found changed outside Terraform."""
    paths = construct_paths(config)
    known_plugins = {"platform", *plugins}
    entries = plan.get("resource_drift" if mode == "drift" else "resource_changes") or []
    summary = PlanSummary(stack=stack, mode=mode)
    for entry in entries:
        if entry.get("mode", "managed") != "managed":
            continue
        change = entry.get("change") or {}
        address = entry["address"]
        if entry.get("previous_address") and mode == "plan":
            summary.moves.append((entry["previous_address"], address))
        kind = kind_of(list(change.get("actions") or []))
        if kind is None:
            continue
        path = paths.get(address, "")
        summary.changes.append(
            ResourceChange(
                address=address,
                type=entry.get("type", address.split(".", 1)[0]),
                plugin=plugin_of(address, path, known_plugins),
                construct_path=path,
                kind=kind,
                attributes=tuple(changed_attributes(change)) if kind in ("change", "replace") else (),
                replace_because=tuple(".".join(str(p) for p in path_) for path_ in change.get("replace_paths") or []),
            )
        )
    summary.changes.sort(key=lambda c: (not c.dangerous, c.plugin, c.address))
    summary.moves.sort()
    return summary


def changed_attributes(change: Mapping[str, Any]) -> list[str]:
    """Names of top-level attributes whose value differs (values themselves are never shown)."""
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    names = set(before) | set(after) | {k for k, v in unknown.items() if v}
    return sorted(n for n in names if before.get(n) != after.get(n) or unknown.get(n) is True)


def redact(value: Any, sensitive: Any) -> Any:
    """``value`` with every part that Terraform marks sensitive replaced by a mask."""
    if sensitive is True:
        return MASK
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: redact(v, sensitive.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [redact(v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)]
    return value
