"""Synthesize every environment (and each state-bucket stack) from BASE_REF and from this tree,
and compare: byte for byte first, then -- for a stack that differs -- with the ``moved`` blocks
applied to the base (each moved resource compared at its new address, its construct path
aside); a changed ``depends_on`` is listed as an ordering change. Anything else that differs is
printed, and the exit status is 1.

    .venv/bin/python tools/synth_diff.py [BASE_REF] [--env dev --env prod] [--keep DIR]

The base is an exported copy of BASE_REF (``git archive``) imported through this tree's
virtualenv: the editable install's import mapping is pointed at the copy, so the base runs its
own code (plugins, runtime package, environments.toml) with the same pinned libraries.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod", "local")

# Run in a child process with cwd = the tree to synthesize: point the editable finders (the
# platform's and the extensions') at that tree, then synthesize through its own code.
_SYNTH = r"""
import sys, importlib
tree, out, envs = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
repo = {repo!r}
for finder_name in [m for m in list(sys.modules) if m.startswith("__editable__") and m.endswith("_finder")]:
    finder = sys.modules[finder_name]
    for table in (finder.MAPPING, finder.NAMESPACES):
        for name, value in table.items():
            if isinstance(value, str):
                table[name] = value.replace(repo, tree, 1)
            else:
                table[name] = [v.replace(repo, tree, 1) for v in value]
from payments_platform.core.host.config import load_config
from payments_platform.core.host.synth import new_app, synthesize
config = load_config(tree + "/environments.toml")
environments = config.select(envs)
synthesize(environments, out + "/platform")
from payments_platform.core.ops import state_bucket
seen = set()
for env in environments:
    if env.state is not None and env.state.bucket not in seen:
        seen.add(env.state.bucket)
        import pathlib
        pathlib.Path(out, "state").mkdir(parents=True, exist_ok=True)
        app = new_app(out + "/state/" + env.state.bucket)
        state_bucket.build_state_bucket_stack(app, env)
        app.synth()
import payments_platform.core
assert payments_platform.core.__file__.startswith(tree), payments_platform.core.__file__
"""


def export(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True, check=True)
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(archive.stdout)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(into, filter="data")
    return into


def synth(tree: Path, out: Path, environments: list[str]) -> None:
    code = _SYNTH.format(repo=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(out), ",".join(environments)],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"synth of {tree} failed:\n{done.stdout}{done.stderr}")


def stack_files(out: Path) -> dict[str, Path]:
    """Relative name → file: every stack's cdk.tf.json and every asset."""
    return {
        str(path.relative_to(out)): path
        for path in sorted(out.rglob("*"))
        if path.is_file() and (path.name == "cdk.tf.json" or "assets" in path.parts)
    }


def _resources(config: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for rtype, named in config.get("resource", {}).items():
        for name, body in named.items():
            yield rtype, name, body


def explain(base: dict[str, Any], head: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, ordering) between two synthesized stacks once head's ``moved`` blocks are applied.

    No problems when the only differences are the moved blocks themselves, the moved resources'
    new addresses (with their construct path and unique id), cdktf's record of the move in the
    stack metadata, and ``depends_on`` lists -- which change the order Terraform acts in, never a
    resource; each one is listed in ``ordering``."""
    base, head = copy.deepcopy(base), copy.deepcopy(head)
    problems: list[str] = []
    ordering: list[str] = []
    moved = head.pop("moved", [])
    head.get("//", {}).get("metadata", {}).pop("moved", None)
    for block in moved:
        from_type, _, from_name = block["from"].partition(".")
        to_type, _, to_name = block["to"].partition(".")
        old = base.get("resource", {}).get(from_type, {}).pop(from_name, None)
        new = head.get("resource", {}).get(to_type, {}).pop(to_name, None)
        if old is None:
            problems.append(f"moved from {block['from']}: no such resource in the base")
            continue
        if new is None:
            problems.append(f"moved to {block['to']}: no such resource in the head")
            continue
        if from_type != to_type:
            problems.append(f"moved {block['from']} -> {block['to']}: the type changes")
        old.pop("//", None)
        new.pop("//", None)
        if old != new:
            problems.append(f"moved {block['from']} -> {block['to']}: its configuration changed")
            problems.extend(_text_diff(old, new, f"{block['from']}", f"{block['to']}"))
    for config in (base, head):
        for rtype in [t for t, named in config.get("resource", {}).items() if not named]:
            del config["resource"][rtype]
    for rtype, name, old in _resources(base):
        new = head.get("resource", {}).get(rtype, {}).get(name)
        if new is None or old.get("depends_on") == new.get("depends_on"):
            continue
        if {k: v for k, v in old.items() if k != "depends_on"} == {k: v for k, v in new.items() if k != "depends_on"}:
            ordering.append(f"{rtype}.{name} depends_on {old.get('depends_on', [])} -> {new.get('depends_on', [])}")
            old.pop("depends_on", None)
            new.pop("depends_on", None)
    if base != head or json.dumps(base) != json.dumps(head):
        problems.extend(_text_diff(base, head, "base", "head"))
    return problems, ordering


def _text_diff(old: Any, new: Any, old_name: str, new_name: str) -> list[str]:
    lines = difflib.unified_diff(
        json.dumps(old, indent=2).splitlines(),
        json.dumps(new, indent=2).splitlines(),
        old_name,
        new_name,
        n=2,
        lineterm="",
    )
    return list(lines)


def compare(base_out: Path, head_out: Path) -> tuple[list[str], list[str]]:
    """(report lines, problems) over every stack and asset of both outputs."""
    base_files, head_files = stack_files(base_out), stack_files(head_out)
    report: list[str] = []
    problems: list[str] = []
    for name in sorted(base_files.keys() | head_files.keys()):
        if name not in base_files or name not in head_files:
            problems.append(f"{name}: only in {'head' if name in head_files else 'base'}")
            continue
        old_bytes, new_bytes = base_files[name].read_bytes(), head_files[name].read_bytes()
        if old_bytes == new_bytes:
            report.append(f"identical  {name} (sha256 {hashlib.sha256(new_bytes).hexdigest()[:12]})")
            continue
        if not name.endswith("cdk.tf.json"):
            problems.append(f"{name}: asset differs")
            continue
        found, ordering = explain(json.loads(old_bytes), json.loads(new_bytes))
        moved = json.loads(new_bytes).get("moved", [])
        if found:
            problems.append(f"{name}: differs beyond moved blocks and ordering")
            problems.extend(f"    {line}" for line in found)
            continue
        report.append(f"same resources {name}")
        report.extend(f"    moved {m['from']} -> {m['to']}" for m in moved)
        report.extend(f"    ordering {line}" for line in ordering)
    return report, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_ref", nargs="?", default="main", help="git ref to compare against (default: main)")
    parser.add_argument(
        "--env", action="append", dest="environments", help="environment (repeatable; default: all four)"
    )
    parser.add_argument("--keep", type=Path, help="write both synths here instead of a temporary directory")
    args = parser.parse_args(argv)
    environments = args.environments or list(ENVIRONMENTS)
    with tempfile.TemporaryDirectory(prefix="synth-diff-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        for part in ("base-tree", "base", "head"):
            shutil.rmtree(work / part, ignore_errors=True)
        base_tree = export(args.base_ref, work / "base-tree")
        synth(base_tree, work / "base", environments)
        synth(REPO, work / "head", environments)
        report, problems = compare(work / "base", work / "head")
    print("\n".join(report))
    if problems:
        print("\n".join(problems))
        return 1
    print(f"every resource the same as in {args.base_ref}, apart from the moves and orderings listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
