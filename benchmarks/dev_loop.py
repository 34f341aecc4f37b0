"""The developer loop, measured in one run: cold up, code edits, an infrastructure edit, teardown.

    .venv/bin/python benchmarks/dev_loop.py [--edits 5] [--keep-logs DIR]

In a scratch directory holding a copy of environments.toml and of the runtime package:

1. cold ``local up`` (its own code, the audit plugin on) until the first POST answers 201;
   where ``terraform apply`` waited: each resource's creation time from Terraform's output and
   the longest chain of dependencies (from the state's recorded dependencies);
2. the watcher of ``local up --watch`` (core/local/watch.py) on the copies; ``--edits`` times:
   save an edit of the status handler (a response header carrying the edit's number) → poll
   GET /status every 50 ms until the header shows that number: edit → served;
3. one infrastructure edit: the api's throttling burst in the copied environments.toml (one
   resource, the stage's method settings) → the reload line → a request served;
4. ``local down`` as Ctrl-C runs it (no destroy: the emulator holds every resource).

Targets (issue #19): edit → served ≤ 3 s (median), infrastructure ≤ 30 s, cold up ≤ 60 s,
teardown ≤ 30 s. Prints every figure with its target and the machine's load.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EDIT = """

_served_before_the_edit = handler


def handler(event, context):
    response = _served_before_the_edit(event, context)
    response.setdefault("headers", {{}})["X-Dev-Loop"] = "{n}"
    return response
"""
SERVED_WAIT_S = 60


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def apply_waits(log_text: str, state_file: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(slowest resources, longest dependency chain) of the apply: seconds from Terraform's
    "Creation complete after" lines, dependencies from the state."""
    durations = {
        m[1]: int(m[2] or 0) * 60 + int(m[3])
        for m in re.finditer(r"^(\S+): Creation complete after (?:(\d+)m)?(\d+)s", log_text, re.M)
    }
    state = json.loads(state_file.read_text())
    dependencies: dict[str, set[str]] = {}
    for resource in state["resources"]:
        if resource["mode"] == "managed":
            address = f"{resource['type']}.{resource['name']}"
            dependencies[address] = {
                d for i in resource["instances"] for d in i.get("dependencies", []) if not d.startswith("data.")
            }

    @functools.cache
    def finish(address: str) -> int:
        return durations.get(address, 0) + max((finish(d) for d in dependencies.get(address, ())), default=0)

    chain, address = [], max(dependencies, key=finish, default=None)
    while address:
        chain.append((durations.get(address, 0), address))
        before = dependencies.get(address, set())
        address = max(before, key=finish) if before else None
    slowest = sorted(((s, a) for a, s in durations.items()), reverse=True)[:8]
    return slowest, chain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--keep-logs", type=Path, help="copy the run's logs here before teardown")
    args = parser.parse_args()

    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.core.local import watch
    from payments_platform.core.local.lifecycle import LocalRun, down, up
    from payments_platform.core.ops.terraform import Terraform
    from payments_platform.plugins.api.local_checks import payment_body

    figures: list[tuple[str, float, float | None]] = []  # what, seconds, target
    print(f"start: {load()}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="dev-loop-") as scratch_dir:
        scratch = Path(scratch_dir)
        config = scratch / "environments.toml"
        shutil.copy(REPO / "environments.toml", config)
        runtime = scratch / "runtime"
        shutil.copytree(watch.runtime_source_dir(), runtime, ignore=shutil.ignore_patterns("__pycache__"))
        run = LocalRun(scratch / ".payments-local", say=lambda line: print(f"  | {line}", flush=True))

        # 1. cold up → first 201
        started = time.perf_counter()
        record = up(run, config_path=str(config))
        key = sorted(record.api_keys.values())[0]
        created = request(
            "POST",
            f"{record.url}/transactions",
            body=payment_body("dev-loop"),
            headers={"Content-Type": "application/json", "x-api-key": key, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status == 201, created.body
        figures.append(("cold up → first 201", time.perf_counter() - started, 60.0))
        for step, seconds in run.timings.items():
            figures.append((f"  {step}", seconds, None))
        log_text = (run.run_dir / "terraform.log").read_text()
        slowest, chain = apply_waits(log_text, run.run_dir / f"terraform.{record.stack}.tfstate")
        print(f"after cold up: {load()}")
        print("slowest resources (Terraform's 'Creation complete after'):")
        for seconds, address in slowest:
            print(f"  {seconds:4d} s  {address}")
        print(f"longest dependency chain: {sum(s for s, _ in chain)} s")
        for seconds, address in chain:
            print(f"  {seconds:4d} s  {address}")

        # 2. runtime edits → served
        lines: list[str] = []
        loop = watch.DevLoop(
            run_dir=run.run_dir,
            endpoint=record.endpoint or "",
            region=record.region,
            stack_dir=Path(record.stack_dir or ""),
            config_path=config,
            environment_name=record.environment,
            terraform=Terraform.locate(run.run_dir),
            runtime_dir=runtime,
            say=lambda line: (lines.append(line), print(f"  | {line}", flush=True)),
            build_cache_dir=scratch / "build",
        )
        thread, stop = watch.start(loop)
        time.sleep(1.0)
        status = runtime / "status.py"
        original = status.read_text()
        status_url = f"{record.url}/status?transaction_id={created.json()['transaction_id']}"
        served: list[float] = []
        for n in range(1, args.edits + 1):
            scratch_file = status.with_suffix(".py.swp")
            scratch_file.write_text(original + EDIT.format(n=n))
            saved = time.perf_counter()
            scratch_file.replace(status)
            while time.perf_counter() - saved < SERVED_WAIT_S:
                if request("GET", status_url, headers={"x-api-key": key}).headers.get("x-dev-loop") == str(n):
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"edit {n} not served within {SERVED_WAIT_S} s: {lines[-3:]}")
            served.append(time.perf_counter() - saved)
            time.sleep(0.5)
        figures.append(
            (
                f"runtime edit → served, median of {len(served)} ({', '.join(f'{s:.2f}' for s in served)})",
                statistics.median(served),
                3.0,
            )
        )

        # 3. one infrastructure edit → applied and reloaded
        text = config.read_text()
        marker = "[environments.local.settings.api]\n"
        assert marker in text
        before = len(lines)
        saved = time.perf_counter()
        config.write_text(text.replace(marker, marker + "throttle_burst = 77\n"))
        while time.perf_counter() - saved < 300:
            done = [line for line in lines[before:] if line.startswith(("↻", "✗"))]
            if done:
                break
            time.sleep(0.1)
        assert done and done[0].startswith("↻"), lines[before:]
        assert request("GET", status_url, headers={"x-api-key": key}).status == 200
        figures.append(
            (f"infrastructure edit → served ({done[0].split(': ', 1)[1]})", time.perf_counter() - saved, 30.0)
        )
        watch.finish(loop, thread, stop)

        # 4. teardown
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for name in ("terraform.log", "gateway.log", "emulator.log"):
                if (run.run_dir / name).exists():
                    shutil.copy(run.run_dir / name, args.keep_logs / name)
        started = time.perf_counter()
        down(run, destroy=False)
        figures.append(("teardown (local down / Ctrl-C)", time.perf_counter() - started, 30.0))

    print(f"\nend: {load()}")
    print(f"{'figure':<70} {'seconds':>8}  target")
    for what, seconds, target in figures:
        verdict = "" if target is None else f"≤ {target:.0f} s  {'met' if seconds <= target else 'MISSED'}"
        print(f"{what:<70} {seconds:8.2f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
