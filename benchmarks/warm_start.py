"""Warm start (issue #31), measured in one run: cold, warm-unchanged and one-resource-change `local up`
to the first 201, and an infrastructure edit under ``--watch`` to served.

    .venv/bin/python benchmarks/warm_start.py

In a scratch directory holding a copy of environments.toml (and its own snapshot store):

1. cold: ``payments-platform local up --keep --fresh`` in a process of its own; from its start, POST
   a payment every 0.2 s once the run directory names the API, until one answers 201; then
   ``local down`` (the snapshot stays);
2. warm, unchanged stack: the same without ``--fresh`` -- the snapshot restored and served, then
   ``terraform plan`` judges it (its figure: when ``local up`` returned);
3. warm, one resource changed: the api's throttling burst edited (the stage's method settings):
   the snapshot of the nearest stack restored, ``terraform apply`` of the difference;
4. on that deployment, the watcher of ``local up --watch`` (core/local/watch.py) and one more
   infrastructure edit (the burst again) → the reload line → a request served.

5. on that deployment, the same one-resource ``terraform apply`` as the watcher's (``-target``,
   ``-refresh=false``) with the provider reaching the emulator through its ``endpoints`` block (as
   before issue #31's fix) and through the SDK profile synthesized now (core/host/emulator_profile.py),
   alternately, twice each: the before/after of the apply side by side.

Targets: warm unchanged ≤ 15 s, one resource ≤ 30 s, cold ≤ 90 s, edit → served ≤ 10 s. Prints
each figure with its target and the machine's load (``uptime``) before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLI = [sys.executable, "-m", "payments_platform.core.cli.main"]
BURST = "[environments.local.settings.api]\n"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def up_to_first_201(scratch: Path, *flags: str) -> dict[str, float]:
    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.plugins.api.local_checks import payment_body

    run_file = scratch / ".payments-local" / "run.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        [*CLI, "--config", str(scratch / "environments.toml"), "local", "up", "--keep", *flags],
        cwd=scratch,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first_201 = None
    while first_201 is None:
        record = json.loads(run_file.read_text()) if run_file.exists() else {}
        if record.get("url") and record.get("api_keys"):
            try:
                response = request(
                    "POST",
                    f"{record['url']}/transactions",
                    body=payment_body("warm-bench"),
                    headers={
                        "Content-Type": "application/json",
                        "x-api-key": sorted(record["api_keys"].values())[0],
                        "Idempotency-Key": str(uuid.uuid4()),
                    },
                )
                if response.status == 201:
                    first_201 = time.perf_counter() - started
                    break
            except OSError:
                pass
        if process.poll() is not None and process.returncode != 0:
            raise SystemExit(f"local up failed:\n{process.stdout.read()[-4000:] if process.stdout else ''}")
        time.sleep(0.2)
    output, _ = process.communicate(timeout=900)
    returned = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"local up failed:\n{output[-4000:]}")
    print("".join(f"  | {line}\n" for line in output.splitlines() if not line.startswith("  warning")), flush=True)
    return {"first 201": first_201, "up returned": returned}


def down(scratch: Path) -> None:
    subprocess.run(
        [*CLI, "--config", str(scratch / "environments.toml"), "local", "down"],
        cwd=scratch,
        check=True,
        capture_output=True,
    )


def watched_edit(scratch: Path) -> tuple[float, str]:
    from payments_platform.core.deployment_checks import http_request as request
    from payments_platform.core.local import watch
    from payments_platform.core.local.run_record import LocalRun, RunRecord
    from payments_platform.core.ops.terraform import Terraform
    from payments_platform.plugins.api.local_checks import payment_body

    run = LocalRun(scratch / ".payments-local")
    record = RunRecord.load(run.record_file)
    assert record is not None
    lines: list[str] = []
    loop = watch.DevLoop(
        run_dir=run.run_dir,
        endpoint=record.endpoint or "",
        region=record.region,
        stack_dir=Path(record.stack_dir or ""),
        config_path=scratch / "environments.toml",
        environment_name=record.environment,
        terraform=Terraform.locate(run.run_dir),
        search=(REPO,),
        say=lambda line: (lines.append(line), print(f"  | {line}", flush=True)),
    )
    thread, stop = watch.start(loop)
    try:
        time.sleep(5.0)  # the watcher up, the warm synthesizer ready (as after `local up --watch` prints its URL)
        config = scratch / "environments.toml"
        before = len(lines)
        saved = time.perf_counter()
        config.write_text(config.read_text().replace(BURST + "throttle_burst = 77\n", BURST + "throttle_burst = 66\n"))
        while time.perf_counter() - saved < 300:
            done = [line for line in lines[before:] if line.startswith(("↻", "✗"))]
            if done:
                break
            time.sleep(0.05)
        assert done and done[0].startswith("↻"), lines[before:]
        created = request(
            "POST",
            f"{record.url}/transactions",
            body=payment_body("warm-bench-watch"),
            headers={
                "Content-Type": "application/json",
                "x-api-key": sorted(record.api_keys.values())[0],
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        assert created.status == 201, created.body
        return time.perf_counter() - saved, done[0].split(": ", 1)[1]
    finally:
        watch.finish(loop, thread, stop)


def apply_side_by_side(scratch: Path) -> list[tuple[str, float, float | None]]:
    import configparser

    from payments_platform.core.host.emulator_profile import PROFILE, sdk_service_key
    from payments_platform.core.host.provider_endpoints import provider_endpoint_services
    from payments_platform.core.local.run_record import LocalRun, RunRecord
    from payments_platform.core.ops.terraform import Terraform

    run = LocalRun(scratch / ".payments-local")
    record = RunRecord.load(run.record_file)
    assert record is not None and record.stack_dir and record.endpoint
    stack_dir = Path(record.stack_dir)
    config_file = stack_dir / "cdk.tf.json"
    synthesized = config_file.read_text()
    config = json.loads(synthesized)
    (provider,) = config["provider"]["aws"]
    profile = configparser.ConfigParser()
    profile.read_string((stack_dir / provider["shared_config_files"][0]).read_text())
    routed = set(profile[f"services {PROFILE}"])
    block = {}
    for service in sorted(provider_endpoint_services()):
        key = sdk_service_key(service)
        if key in routed and key not in block.values():
            block[service] = key
    assert set(block.values()) == routed, routed - set(block.values())
    with_block = {k: v for k, v in provider.items() if k not in ("profile", "shared_config_files")}
    with_block["endpoints"] = [{service: record.endpoint for service in block}]
    (name,) = [n for n, r in config["resource"]["aws_api_gateway_method_settings"].items() if r["method_path"] == "*/*"]
    terraform = Terraform.locate(run.run_dir)
    figures: list[tuple[str, float, float | None]] = []
    try:
        for burst, (variant, routing) in enumerate(2 * [("endpoints block", with_block), ("SDK profile", provider)]):
            config["provider"]["aws"] = [routing]
            config["resource"]["aws_api_gateway_method_settings"][name]["settings"]["throttling_burst_limit"] = (
                40 + burst
            )
            config_file.write_text(json.dumps(config, indent=2))
            started = time.perf_counter()
            output = terraform.apply(
                stack_dir,
                run.file("terraform.log"),
                parallelism=20,
                refresh=False,
                targets=[f"aws_api_gateway_method_settings.{name}"],
            )
            seconds = time.perf_counter() - started
            assert "1 changed" in output, output[-2000:]
            figures.append(
                (f"targeted apply of 1 resource, provider via its {variant} ({uptime()[-16:]})", seconds, None)
            )
            print(f"  | {figures[-1][0]}: {seconds:.2f} s", flush=True)
    finally:
        config_file.write_text(synthesized)
    return figures


def main() -> int:
    figures: list[tuple[str, float, float | None]] = []
    print(f"start: {uptime()}; {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="warm-start-") as scratch_dir:
        scratch = Path(scratch_dir)
        shutil.copy(REPO / "environments.toml", scratch / "environments.toml")
        os.environ.pop("PAYMENTS_LOCAL_SNAPSHOTS", None)  # the run directory's own store
        try:
            cold = up_to_first_201(scratch, "--fresh")
            figures += [("cold: first 201", cold["first 201"], 90.0), ("cold: up returned", cold["up returned"], None)]
            down(scratch)
            warm = up_to_first_201(scratch)
            figures += [("warm, unchanged stack: first 201", warm["first 201"], 15.0)]
            figures += [("warm, unchanged stack: up returned (plan judged)", warm["up returned"], None)]
            down(scratch)
            config = scratch / "environments.toml"
            config.write_text(config.read_text().replace(BURST, BURST + "throttle_burst = 77\n"))
            changed = up_to_first_201(scratch)
            figures += [("warm, one resource changed: first 201", changed["first 201"], 30.0)]
            figures += [("warm, one resource changed: up returned", changed["up returned"], None)]
            seconds, phases = watched_edit(scratch)
            figures.append((f"--watch infrastructure edit → served ({phases})", seconds, 10.0))
            figures += apply_side_by_side(scratch)
        finally:
            subprocess.run(
                [*CLI, "--config", str(scratch / "environments.toml"), "local", "down"],
                cwd=scratch,
                capture_output=True,
            )
            report(figures)  # what was measured, even when a later step failed
    return 0


def report(figures: list[tuple[str, float, float | None]]) -> None:
    print(f"\nend: {uptime()}")
    print(f"{'figure':<80} {'seconds':>8}  target")
    for what, seconds, target in figures:
        verdict = "" if target is None else f"≤ {target:.0f} s  {'met' if seconds <= target else 'MISSED'}"
        print(f"{what:<80} {seconds:8.2f}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
