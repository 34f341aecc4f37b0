"""``local up`` / ``local down``: the whole platform on this machine, behind a real HTTP API.

up:   start the emulator (IAM enforced) → synth ``local`` pointed at it, while moto starts → terraform init + apply →
      read the deployed functions back, check their code, give each its own identity →
      start the gateway (the APIs + Lambda Runtime API + containers) → print how to call it →
      keep a snapshot of the emulator and the Terraform state (warm_start.py).
      Warm (issue #31): after init, a snapshot of the same stack is restored and served at once, then
      ``terraform plan`` judges it (changes: applied); a snapshot of the nearest stack is restored and
      ``terraform apply`` makes the difference. ``fresh`` ignores snapshots.
down: terraform destroy → delete the function identities → stop the gateway and the emulator →
      remove the run directory but its snapshots.

The run directory and its record: run_record.py. A foreground run's terminal and signals:
terminal.py, signals.py. What the CLI and ``--watch`` call: session.py.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from payments_platform.core.errors import TerraformError
from payments_platform.core.host.config import EnvironmentConfig, load_config
from payments_platform.core.local import DEFAULT_ENVIRONMENT, warm_start
from payments_platform.core.local.apply_watch import FAILURE_JOURNAL, EmulatorWatch
from payments_platform.core.local.deployed_stack import DeployedStack, Served
from payments_platform.core.local.emulator.function_identities import remove_all_function_identities
from payments_platform.core.local.emulator.retried_calls import retries_said
from payments_platform.core.local.first_rotations import immediately_rotated_secrets, wait_for_first_rotations
from payments_platform.core.local.gateway_spec import GatewaySpec
from payments_platform.core.local.processes import (
    LocalRunError,
    alive,
    emulator_client,
    python_module,
    spawn,
    stop_group,
    wait_ready,
)
from payments_platform.core.local.run_record import KEPT, LocalRun, RunRecord
from payments_platform.core.local.snapshots import GATEWAY_SPEC as SNAPSHOT_GATEWAY_SPEC
from payments_platform.core.local.snapshots import Snapshot, SnapshotRefused, SnapshotStore, StackIdentity
from payments_platform.core.ops.plan_summary import summarize
from payments_platform.core.ops.terraform import Terraform, last_error

EMULATOR_MODULE = "payments_platform.core.local.emulator.server"
GATEWAY_MODULE = "payments_platform.core.local.apigw.server"
GATEWAY_SPEC = "gateway-spec.json"
CONTROL_SOCKET = "control.sock"
APPLY_TIMEOUT_S = 900
PARALLELISM = 10


# --------------------------------------------------------------------------- up


def up(
    run: LocalRun,
    *,
    config_path: str | None = None,
    environment_name: str = DEFAULT_ENVIRONMENT,
    port: int = 0,
    terraform_binary: str | None = None,
    provider_mirror: str | None = None,
    die_with_parent: bool = True,
    fresh: bool = False,
) -> RunRecord:
    """Bring a run up and return its record; on any failure, tear down what it started.
    ``fresh``: the cold path whatever snapshots there are (a successful run still saves one).

    With ``die_with_parent`` (all but ``local up --keep``) the emulator and the gateway stop on their
    own within seconds when this process is killed (SIGKILL, OOM); ``local down`` finishes the rest."""
    config = load_config(config_path)
    (environment,) = config.select([environment_name])
    if environment.aws_endpoint is None:
        raise LocalRunError(f"environment {environment.name} has no aws_endpoint: it is not meant for a local emulator")
    terraform = Terraform.locate(run.run_dir, binary=terraform_binary, mirror=provider_mirror)  # fails early
    _check_port_free(port)
    existing = RunRecord.load(run.record_file)
    if existing is not None:
        if alive(existing.gateway_pid) or alive(existing.emulator_pid):
            raise LocalRunError(
                f"a local run is already up ({existing.url or existing.endpoint}); "
                "`payments-platform local down` stops it"
            )
        run.say("a previous run ended without `local down`: cleaning up after it first")
        down(run)
    run.record = RunRecord(environment=environment.name, suffix=environment.suffix, region=environment.regions.deploy)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        _up(run, environment, terraform, port, die_with_parent, fresh)
    except BaseException as failure:
        interrupted = isinstance(failure, KeyboardInterrupt)
        run.say(("interrupted" if interrupted else "failed") + ": stopping everything this run started …")
        if not interrupted:  # the emulator's log goes with the run directory: its evidence is said first
            for retry in retries_said(run.file("emulator.log")):
                run.say(f"  the emulator saw a retry: {retry}")
        _stop_processes(run)
        run.remove_files()
        raise
    return run.record


def _up(
    run: LocalRun, environment: EnvironmentConfig, terraform: Terraform, port: int, die_with_parent: bool, fresh: bool
) -> None:
    record = run.record
    assert record is not None
    store = SnapshotStore.for_run(run.run_dir)
    # The emulator names its endpoint as soon as its port is bound; moto's start (~2 s) then runs
    # beside the synth, which needs only the endpoint. A failed synth stops it like any failure (up).
    with run.step("start the AWS emulator (moto, IAM enforced)"):
        emulator, endpoint = _start_emulator(run, die_with_parent, store)
    environment = dataclasses.replace(environment, aws_endpoint=endpoint)
    with run.step(f"synthesize {environment.name} (the emulator starts meanwhile)"):
        stack_dir, config = _synthesize(run, environment)
    with run.step("wait for the emulator"):
        record.endpoint = wait_ready(
            emulator, run.file("emulator.ready"), what="the emulator", log_file=run.file("emulator.log")
        )["endpoint"]
        run.save()
    run.say(f"  emulator at {record.endpoint}")
    with run.step("terraform init"):
        terraform.init(stack_dir, backend=True)
    identity = warm_start.identify(terraform, stack_dir, environment.name, record.endpoint)
    restored = None if fresh else _restore(run, store, identity, stack_dir)
    stack = DeployedStack(record.endpoint, record.region, stack_dir)
    count = sum(len(v) for v in (config.get("resource") or {}).values())
    if restored is not None and restored.same_stack:
        _serve(run, stack, port, die_with_parent, served=_served_identities(restored.snapshot))
        with run.step("terraform plan: is the restored deployment the synthesized one?"):
            changes = planned_changes(run, record, terraform=terraform)
        if not changes:
            run.say("  no changes: serving the snapshot")
            return
        run.say(f"  {len(changes)} planned change(s): applying them, as for a changed stack")
        stop_group(record.gateway_pid)
    with run.step(f"terraform apply ({count} resources{', from a snapshot' if restored else ''})"):
        _apply(run, terraform, stack_dir, config, environment.name)
    _serve(run, stack, port, die_with_parent)
    if immediately_rotated_secrets(config):
        with run.step("wait for the secrets' first rotations (their first values)"):
            wait_for_first_rotations(stack.client("secretsmanager"), config)
    with run.step("keep a snapshot for the next `local up`"):
        _save(run, store, identity)


def _restore(
    run: LocalRun, store: SnapshotStore, identity: StackIdentity, stack_dir: Path
) -> warm_start.Restored | None:
    """The chosen snapshot restored whole, or None (said in one line) and nothing changed."""
    assert run.record is not None and run.record.endpoint is not None
    snapshot, why = store.choose(identity)
    if snapshot is None:
        run.say(f"  cold start: {why}")
        return None
    with run.step(f"restore the snapshot of {why}"):
        try:
            warm_start.restore(snapshot, run.record.endpoint, store, _state_file(run, stack_dir))
        except SnapshotRefused as refused:
            run.say(f"  snapshot {snapshot.key[:12]} refused: {refused}; cold start")
            return None
    run.record.applied = True  # deployed as much as after an apply: down destroys from here on
    run.save()
    return warm_start.Restored(snapshot, same_stack=snapshot.key == identity.key)


def _save(run: LocalRun, store: SnapshotStore, identity: StackIdentity) -> None:
    """A snapshot that cannot be written costs the next start its warmth, never this one."""
    assert run.record is not None and run.record.endpoint is not None and run.record.stack_dir is not None
    try:
        saved = warm_start.save(
            identity,
            run.record.endpoint,
            store,
            _state_file(run, Path(run.record.stack_dir)),
            run.file(GATEWAY_SPEC),
        )
    except (SnapshotRefused, OSError) as failure:
        run.say(f"  no snapshot kept: {failure}")
        return
    run.say(f"  snapshot {saved.key[:12]} in {store.directory}")


def _state_file(run: LocalRun, stack_dir: Path) -> Path:
    return run.file(f"terraform.{stack_dir.name}.tfstate")  # the local backend's path (environment.py)


def _served_identities(snapshot: Snapshot) -> Served:
    """The function identities' keys as the snapshot's gateway served them (they are in the
    restored IAM too): kept where the role still matches, so nothing is re-keyed."""
    spec = GatewaySpec.read(snapshot.file(SNAPSHOT_GATEWAY_SPEC))
    return Served(credentials=spec.credentials)


def _serve(run: LocalRun, stack: DeployedStack, port: int, die_with_parent: bool, served: Served | None = None) -> None:
    record = run.record
    assert record is not None and record.endpoint is not None
    with run.step("read the deployed functions, check their code, give each its identity"):
        deployed = stack.functions(run.file("functions"), served)
    with run.step("start the local API gateway and Lambda runtime"):
        spec = GatewaySpec(
            endpoint=record.endpoint,
            region=record.region,
            stack_dir=stack.stack_dir,
            host="127.0.0.1",
            port=port,
            ready_file=run.file("gateway.ready"),
            # `local up --watch` reloads code and configuration through it (core/local/watch.py).
            control_socket=run.file(CONTROL_SOCKET),
            functions=deployed.functions,
            credentials=deployed.credentials,
        )
        _start_gateway(run, spec, die_with_parent)
        record.api_keys = stack.api_keys()
        run.save()


def _start_emulator(run: LocalRun, die_with_parent: bool, store: SnapshotStore) -> tuple[Any, str]:
    """The emulator started and recorded; returns it and its endpoint (moto may still be starting)."""
    assert run.record is not None
    process = spawn(
        python_module(
            EMULATOR_MODULE,
            *("--host", "127.0.0.1", "--port", "0"),
            *("--ready-file", str(run.file("emulator.ready"))),
            *("--endpoint-file", str(run.file("emulator.endpoint"))),
            # Secrets Manager rotation runs the deployed rotator on the gateway's Lambda runtime.
            *("--lambda-runtime-file", str(run.file("gateway.ready"))),
            # Watched during apply: an action moto cannot serve fails the run, not hangs it.
            *("--failure-journal", str(run.file(FAILURE_JOURNAL))),
            *("--snapshots-dir", str(store.directory)),
        ),
        log_file=run.file("emulator.log"),
        die_with_parent=die_with_parent,
    )
    run.record.emulator_pid = process.pid
    run.save()
    ready = wait_ready(process, run.file("emulator.endpoint"), what="the emulator", log_file=run.file("emulator.log"))
    return process, ready["endpoint"]


def _synthesize(run: LocalRun, environment: EnvironmentConfig) -> tuple[Path, dict[str, Any]]:
    from payments_platform.core.host.synth import synthesize
    from payments_platform.core.local.emulator.coverage import emulator_gaps

    assert run.record is not None
    result = synthesize([environment], run.file("cdktf.out"), stack_checks=[emulator_gaps])
    stack_dir = result.stacks[environment.stack_name]
    run.record.stack, run.record.stack_dir = environment.stack_name, str(stack_dir)
    run.save()
    for warning in result.warnings.get(environment.stack_name, []):
        run.say(f"  warning: {warning}")
    return stack_dir, result.configs[environment.stack_name]


def _apply(run: LocalRun, terraform: Terraform, stack_dir: Path, config: dict[str, Any], environment: str) -> None:
    assert run.record is not None
    run.record.applied = True  # from here on, down destroys
    run.save()
    watch = EmulatorWatch(
        run.file(FAILURE_JOURNAL), config, environment, run.file("terraform.log"), emulator_pid=run.record.emulator_pid
    )
    terraform.apply(
        stack_dir, run.file("terraform.log"), parallelism=PARALLELISM, timeout=APPLY_TIMEOUT_S, check=watch.problem
    )


def _start_gateway(run: LocalRun, spec: GatewaySpec, die_with_parent: bool) -> None:
    assert run.record is not None
    spec_file, log = run.file(GATEWAY_SPEC), run.file("gateway.log")
    spec.write(spec_file)
    process = spawn(python_module(GATEWAY_MODULE, str(spec_file)), log_file=log, die_with_parent=die_with_parent)
    run.record.gateway_pid = process.pid
    run.save()
    info = wait_ready(process, spec.ready_file, what="the gateway", log_file=log)
    run.record.url, run.record.urls = info["url"], info["urls"]


# --------------------------------------------------------------------------- down


def down(
    run: LocalRun,
    *,
    terraform_binary: str | None = None,
    provider_mirror: str | None = None,
    before_stop: Callable[[RunRecord], None] | None = None,
    destroy: bool = True,
) -> bool:
    """Destroy and stop whatever the run directory records; False when there was nothing.

    ``destroy=False`` (``local down`` and Ctrl-C by default) skips ``terraform destroy``: every
    resource lives only in this run's emulator process, so stopping it removes them all in a
    second, where destroy waits on the provider's deletion polls for a minute or more."""
    record = RunRecord.load(run.record_file)
    if record is None:
        leftover = run.run_dir.exists() and any(p.name not in KEPT for p in run.run_dir.iterdir())
        run.remove_files()
        return leftover
    run.record = record
    try:
        if record.gateway_pid:
            with run.step("stop the local API gateway and its containers"):
                stop_group(record.gateway_pid)
        if not destroy and record.applied and alive(record.emulator_pid):
            run.say(
                "  every resource lives in this run's emulator: stopping it removes them (--destroy: terraform first)"
            )
        elif alive(record.emulator_pid) and record.endpoint:
            try:
                if record.applied and record.stack_dir and Path(record.stack_dir).exists():
                    terraform = Terraform.locate(run.run_dir, binary=terraform_binary, mirror=provider_mirror)
                    with run.step(f"terraform destroy {record.stack}"):
                        terraform.destroy(
                            Path(record.stack_dir),
                            run.file("terraform.log"),
                            parallelism=PARALLELISM,
                            timeout=APPLY_TIMEOUT_S,
                        )
                with run.step("delete the function identities"):
                    remove_all_function_identities(emulator_client("iam", record.endpoint, record.region))
            except Exception as failure:
                # The emulator is ours and keeps everything in memory: stopping it still cleans up.
                run.teardown_error = f"{type(failure).__name__}: {failure}"
                run.say(f"  could not destroy ({run.teardown_error}); stopping the emulator removes everything it held")
            else:
                if before_stop is not None:
                    before_stop(record)
        elif record.applied:
            run.say("  the emulator is gone, and everything it held with it")
    finally:
        _stop_processes(run)
        run.remove_files()
    return True


def _stop_processes(run: LocalRun) -> None:
    record = run.record
    if record is None:
        return
    for what, pid in (("gateway", record.gateway_pid), ("emulator", record.emulator_pid)):
        if pid and alive(pid):
            run.say(f"→ stop the {what} (pid {pid})")
        stop_group(pid)


# --------------------------------------------------------------------------- helpers


def _check_port_free(port: int) -> None:
    if not port:
        return
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise LocalRunError(
                f"port {port} on 127.0.0.1 is in use: choose another with --port, or 0 for any free one"
            ) from None


def describe(record: RunRecord, examples: Sequence[str] = ()) -> list[str]:
    """What a user needs to call the running APIs; ``examples``: the enabled plugins' example
    requests, rendered (core/local/api_hooks.py)."""
    lines = [f"API: {record.url}"]
    lines += [f"API {name}: {url}" for name, url in sorted(record.urls.items()) if url != record.url]
    for name, value in sorted(record.api_keys.items()):
        lines.append(f"API key: {value}   ({name})")
    return lines + list(examples)


def planned_changes(
    run: LocalRun,
    record: RunRecord,
    *,
    terraform_binary: str | None = None,
    provider_mirror: str | None = None,
    terraform: Terraform | None = None,
) -> list[str]:
    """`terraform plan -detailed-exitcode` on the running deployment: the resource changes it
    would make (empty: the emulator holds exactly what was applied)."""
    assert record.stack_dir is not None
    terraform = terraform or Terraform.locate(run.run_dir, binary=terraform_binary, mirror=provider_mirror)
    stack_dir = Path(record.stack_dir)
    result = terraform.run(
        ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-out=local.tfplan", f"-parallelism={PARALLELISM}"],
        stack_dir,
        timeout=APPLY_TIMEOUT_S,
    )
    if result.returncode == 0:
        return []
    if result.returncode != 2:
        raise TerraformError(f"terraform plan failed: {last_error(result.stderr or result.stdout)}")
    shown = terraform.run(["show", "-json", "local.tfplan"], stack_dir, timeout=120)
    config = json.loads((stack_dir / "cdk.tf.json").read_text())
    summary = summarize(json.loads(shown.stdout), config, record.stack, plugins=())
    return [f"{c.address}: {c.kind} {', '.join(c.attributes)}".rstrip() for c in summary.changes]
