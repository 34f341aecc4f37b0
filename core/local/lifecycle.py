"""``local up`` / ``local down``: the whole platform on this machine, behind a real HTTP API.

up:   start the emulator (IAM enforced) → synth ``local`` pointed at it, while moto starts → terraform init + apply →
      read the deployed functions back, check their code, give each its own identity →
      start the gateway (API + Lambda Runtime API + containers) → print how to call it.
down: terraform destroy → delete the function identities → stop the gateway and the emulator →
      remove the run directory.

Everything a run owns lives in one run directory (``.payments-local/`` beside environments.toml):
its record ``run.json`` (pids, endpoint, URL -- written before each process starts doing work),
logs, the synth output and the Terraform state. ``down`` needs nothing else, so it can clean up
after a crash or from another terminal. A lock file keeps two runs from sharing it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.errors import TerraformError
from payments_platform.core.host.config import EnvironmentConfig, load_config
from payments_platform.core.local import DEFAULT_ENVIRONMENT
from payments_platform.core.local.emulator.failure_journal import Failure, read_failures
from payments_platform.core.local.emulator.function_identities import function_identity, remove_all_function_identities
from payments_platform.core.local.first_rotations import immediately_rotated_secrets, wait_for_first_rotations
from payments_platform.core.local.lambdafn.deployed_functions import read_function, spec_to_json
from payments_platform.core.local.processes import (
    LocalRunError,
    alive,
    descendants,
    dies_with_parent,
    emulator_client,
    last_line,
    python_module,
    spawn,
    stop_group,
    wait_ready,
    write_json_atomically,
)
from payments_platform.core.ops.terraform import Terraform, last_error

RUN_DIR_NAME = ".payments-local"
FAILURE_JOURNAL = "emulator-failures.jsonl"
EMULATOR_MODULE = "payments_platform.core.local.emulator.server"
GATEWAY_MODULE = "payments_platform.core.local.apigw.server"
APPLY_TIMEOUT_S = 900
# The emulator failing one action this often (the provider retrying a 5xx) means it will not succeed.
REPEATED_FAILURES = 3
WATCH_POLL_S = 0.5
PARALLELISM = "-parallelism=10"

Say = Callable[[str], None]
# What stops a foreground run, each followed by the same teardown: Ctrl-C, `kill`, and the terminal
# going away (SIGHUP: the window closed, the ssh session dropped).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class RunRecord:
    """run.json: what a run started, where, and how to reach it."""

    environment: str
    stack: str = ""
    emulator_pid: int | None = None
    endpoint: str | None = None
    gateway_pid: int | None = None
    url: str | None = None
    stack_dir: str | None = None
    suffix: str = ""
    region: str = "us-east-1"
    api_keys: dict[str, str] = field(default_factory=dict)  # client name → key value
    applied: bool = False

    @classmethod
    def load(cls, path: Path) -> RunRecord | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LocalRun:
    """One run directory and the processes it records."""

    run_dir: Path
    say: Say = print
    record: RunRecord | None = None
    timings: dict[str, float] = field(default_factory=dict)
    teardown_error: str | None = None  # set by down() when destroy failed and only stopping the emulator cleaned up

    @property
    def record_file(self) -> Path:
        return self.run_dir / "run.json"

    def save(self) -> None:
        assert self.record is not None
        write_json_atomically(self.record_file, dataclasses.asdict(self.record))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held for the whole of ``up`` (while in the foreground) and ``down``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.run_dir / "lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LocalRunError(
                f"another `payments-platform local` command is working on {self.run_dir} right now; wait for it, "
                "or stop it (Ctrl-C) first"
            ) from None
        try:
            yield
        finally:
            handle.close()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self.say(f"→ {name} …")
        yield
        self.timings[name] = elapsed = time.perf_counter() - started
        self.say(f"  done in {elapsed:.1f} s")


def run_dir_for(config_path: Path | None = None) -> Path:
    from payments_platform.core.host.config import find_config_file

    return find_config_file(config_path).resolve().parent / RUN_DIR_NAME  # recorded paths work from any cwd


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
) -> RunRecord:
    """Bring a run up and return its record; on any failure, tear down what it started.

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
        _up(run, environment, terraform, port, die_with_parent)
    except BaseException as failure:
        interrupted = isinstance(failure, KeyboardInterrupt)
        run.say(("interrupted" if interrupted else "failed") + ": stopping everything this run started …")
        _stop_processes(run)
        _remove(run.run_dir)
        raise
    return run.record


def _up(run: LocalRun, environment: EnvironmentConfig, terraform: Terraform, port: int, die_with_parent: bool) -> None:
    from payments_platform.core.host.synth import synthesize
    from payments_platform.core.local.emulator.coverage import emulator_gaps

    record = run.record
    assert record is not None
    # The emulator names its endpoint as soon as its port is bound; moto's start (~2 s) then runs
    # beside the synth, which needs only the endpoint. A failed synth stops it like any failure (up).
    with run.step("start the AWS emulator (moto, IAM enforced)"):
        log = run.run_dir / "emulator.log"
        ready = run.run_dir / "emulator.ready"
        process = spawn(
            python_module(
                EMULATOR_MODULE,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--ready-file",
                str(ready),
                "--endpoint-file",
                str(run.run_dir / "emulator.endpoint"),
                # Secrets Manager rotation runs the deployed rotator on the gateway's Lambda runtime.
                "--lambda-runtime-file",
                str(run.run_dir / "gateway.ready"),
                # Watched during apply: an action moto cannot serve fails the run, not hangs it.
                "--failure-journal",
                str(run.run_dir / FAILURE_JOURNAL),
            ),
            log_file=log,
            die_with_parent=die_with_parent,
        )
        record.emulator_pid = process.pid
        run.save()
        endpoint = wait_ready(process, run.run_dir / "emulator.endpoint", what="the emulator", log_file=log)["endpoint"]

    environment = dataclasses.replace(environment, aws_endpoint=endpoint)
    with run.step(f"synthesize {environment.name} (the emulator starts meanwhile)"):
        result = synthesize([environment], run.run_dir / "cdktf.out", stack_checks=[emulator_gaps])
        stack_dir = result.stacks[environment.stack_name]
        record.stack, record.stack_dir = environment.stack_name, str(stack_dir)
        run.save()
        for warning in result.warnings.get(environment.stack_name, []):
            run.say(f"  warning: {warning}")
    config = result.configs[environment.stack_name]

    with run.step("wait for the emulator"):
        record.endpoint = wait_ready(process, ready, what="the emulator", log_file=log)["endpoint"]
        run.save()
    run.say(f"  emulator at {record.endpoint}")

    with run.step("terraform init"):
        terraform.init(stack_dir, backend=True)
    count = sum(len(v) for v in (config.get("resource") or {}).values())
    with run.step(f"terraform apply ({count} resources)"):
        record.applied = True  # from here on, down destroys
        run.save()
        _terraform(
            terraform,
            stack_dir,
            run.run_dir / "terraform.log",
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            PARALLELISM,
            watch=EmulatorWatch(
                run.run_dir / FAILURE_JOURNAL,
                config,
                environment.name,
                run.run_dir / "terraform.log",
                emulator_pid=record.emulator_pid,
            ),
        )

    with run.step("read the deployed functions, check their code, give each its identity"):
        functions, credentials = _prepare_functions(run, config, stack_dir, environment)

    with run.step("start the local API gateway and Lambda runtime"):
        log = run.run_dir / "gateway.log"
        ready = run.run_dir / "gateway.ready"
        spec = {
            "endpoint": record.endpoint,
            "region": environment.regions.deploy,
            "api_name": _api_name(config),
            "host": "127.0.0.1",
            "port": port,
            "ready_file": str(ready),
            # `local up --watch` reloads code and configuration through it (core/local/watch.py).
            "control_socket": str(run.run_dir / "control.sock"),
            "functions": [spec_to_json(f) for f in functions],
            "credentials": credentials,
        }
        spec_file = run.run_dir / "gateway-spec.json"
        write_json_atomically(spec_file, spec)
        process = spawn(python_module(GATEWAY_MODULE, str(spec_file)), log_file=log, die_with_parent=die_with_parent)
        record.gateway_pid = process.pid
        run.save()
        info = wait_ready(process, ready, what="the gateway", log_file=log)
        record.url = info["url"]
        record.api_keys = _api_keys(record.endpoint, environment.regions.deploy, config)
        run.save()

    if immediately_rotated_secrets(config):
        with run.step("wait for the secrets' first rotations (their first values)"):
            wait_for_first_rotations(
                emulator_client("secretsmanager", record.endpoint, environment.regions.deploy), config
            )


def _prepare_functions(
    run: LocalRun, config: dict[str, Any], stack_dir: Path, environment: EnvironmentConfig
) -> tuple[list[Any], dict[str, dict[str, str]]]:
    record = run.record
    assert record is not None and record.endpoint is not None
    region = environment.regions.deploy
    lambda_client = emulator_client("lambda", record.endpoint, region)
    iam = emulator_client("iam", record.endpoint, region)
    functions, credentials = [], {}
    for body in sorted(
        (config["resource"].get("aws_lambda_function") or {}).values(), key=lambda b: b["function_name"]
    ):
        name = body["function_name"]
        if "filename" not in body:
            raise LocalRunError(
                f"function {name} is deployed from S3 (a signed package): an emulator environment deploys the zip "
                "directly (api setting code_signing = false)"
            )
        spec = read_function(lambda_client, name, stack_dir / body["filename"], run.run_dir / "functions")
        functions.append(spec)
        credentials[name] = function_identity(iam, name, spec.role_arn).environment()
    return functions, credentials


def _api_name(config: dict[str, Any]) -> str:
    (api,) = (config["resource"].get("aws_api_gateway_rest_api") or {}).values()
    return api["name"]


def _api_keys(endpoint: str, region: str, config: dict[str, Any]) -> dict[str, str]:
    """Client → key value, for the keys this stack created (named in the synthesized config)."""
    names = {
        body["name"]: body.get("description", body["name"])
        for body in (config["resource"].get("aws_api_gateway_api_key") or {}).values()
    }
    apigateway = emulator_client("apigateway", endpoint, region)
    keys = apigateway.get_api_keys(includeValues=True, limit=500)["items"]
    return {key["name"]: key["value"] for key in keys if key["name"] in names}


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
        leftover = run.run_dir.exists() and any(p.name != "lock" for p in run.run_dir.iterdir())
        _remove(run.run_dir)
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
                        _terraform(
                            terraform,
                            Path(record.stack_dir),
                            run.run_dir / "terraform.log",
                            "destroy",
                            "-auto-approve",
                            "-input=false",
                            "-no-color",
                            PARALLELISM,
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
        _remove(run.run_dir)
    return True


def _stop_processes(run: LocalRun) -> None:
    record = run.record
    if record is None:
        return
    for what, pid in (("gateway", record.gateway_pid), ("emulator", record.emulator_pid)):
        if pid and alive(pid):
            run.say(f"→ stop the {what} (pid {pid})")
        stop_group(pid)


def _remove(run_dir: Path) -> None:
    # The lock file stays while its holder runs; everything else goes.
    if run_dir.exists():
        for entry in run_dir.iterdir():
            if entry.name == "lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------- helpers


class EmulatorWatch:
    """Reads the emulator's failure journal while Terraform works: a NotImplemented, or the same
    action failing REPEATED_FAILURES times, is a gap the provider's retries will never get past.
    An emulator that is gone is one too: the provider would retry its refused connections for
    about a minute and a half before Terraform gave up."""

    def __init__(
        self,
        journal: Path,
        config: dict[str, Any],
        environment: str,
        terraform_log: Path,
        emulator_pid: int | None = None,
    ) -> None:
        self.journal, self.config, self.environment, self.terraform_log = journal, config, environment, terraform_log
        self.emulator_pid = emulator_pid
        self._offset = 0
        self._counts: dict[tuple[str, str, int], int] = {}
        self.first_seen: float | None = None

    def problem(self) -> str | None:
        if self.emulator_pid is not None and not alive(self.emulator_pid):
            return (
                f"terraform apply failed: the emulator (pid {self.emulator_pid}) stopped while Terraform was "
                f"deploying into it (its log: {self.journal.parent / 'emulator.log'}); `local up` starts a new one"
            )
        failures, self._offset = read_failures(self.journal, self._offset)
        for failure in failures:
            key = (failure.service, failure.action, failure.status)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self.first_seen is None:
                self.first_seen = failure.at
            if failure.not_implemented or self._counts[key] >= REPEATED_FAILURES:
                return self._explain(failure)
        return None

    def _explain(self, failure: Failure) -> str:
        resources = self._resources_calling(failure.action)
        plugins = sorted({plugin for _, plugin in resources})
        named = ", ".join(f"{address} (plugin '{plugin}')" for address, plugin in resources) or "a resource"
        what = (
            "which the emulator (moto) does not implement"
            if failure.not_implemented
            else f"which the emulator answered {failure.status} {self._counts[(failure.service, failure.action, failure.status)]} times"
        )
        disable = f"`disable = {json.dumps(plugins)}`" if plugins else "`disable = [...]`"
        return (
            f"the emulator cannot deploy {named}: it calls {failure.service_action}, {what}. Disable the plugin in "
            f"environment '{self.environment}' ({disable} under [environments.{self.environment}] in "
            "environments.toml), or teach the emulator (a moto patch in core/local/emulator, with an Upstream: note)"
        )

    def _resources_calling(self, action: str) -> list[tuple[str, str]]:
        from payments_platform.core.host.policy import iter_resources
        from payments_platform.core.local.emulator.coverage import types_calling

        types = set(types_calling(action))
        candidates = [r for r in iter_resources(self.config) if r.type in types]
        working = _in_progress(self.terraform_log)
        narrowed = [r for r in candidates if r.address in working] or candidates
        if not narrowed:  # an action the coverage table does not list: what Terraform is waiting on
            narrowed = [r for r in iter_resources(self.config) if r.address in working]
        return [(r.address, r.plugin) for r in narrowed]


_TERRAFORM_PROGRESS = re.compile(r"^(\S+): (Creating\.\.\.|Still creating|Creation complete|Modifying|Still modifying)")


def _in_progress(terraform_log: Path) -> set[str]:
    """Addresses Terraform has started and not finished creating or modifying, from its log."""
    started: set[str] = set()
    try:
        text = terraform_log.read_text(errors="replace")
    except OSError:
        return started
    for line in text.splitlines():
        match = _TERRAFORM_PROGRESS.match(line)
        if match is None:
            continue
        address = match[1].split("[", 1)[0]
        if match[2] == "Creation complete":
            started.discard(address)
        else:
            started.add(address)
    return started


def _terraform(
    terraform: Terraform, stack_dir: Path, log_file: Path, *args: str, watch: EmulatorWatch | None = None
) -> None:
    """Run terraform with its output in the run's log; one line about it when it fails -- or when
    ``watch`` finds an emulator gap, which stops terraform at once rather than let it retry."""
    with open(log_file, "a") as log:
        log.write(f"\n$ terraform {' '.join(args)}\n")
        log.flush()
        # Not a new session: Ctrl-C reaches terraform too, which stops cleanly. Nor does it
        # outlive us: killed, we leave it an interrupt (SIGTERM) rather than an emulator to retry.
        process = subprocess.Popen(
            [terraform.binary, *args],
            cwd=stack_dir,
            env=terraform.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=dies_with_parent(),
        )
        try:
            deadline = time.monotonic() + APPLY_TIMEOUT_S
            while process.poll() is None:
                if time.monotonic() > deadline:
                    _stop_terraform(process)
                    raise TerraformError(f"terraform {args[0]} timed out after {APPLY_TIMEOUT_S} s (log: {log_file})")
                gap = watch.problem() if watch is not None else None
                if gap is not None:
                    _stop_terraform(process)
                    raise LocalRunError(gap)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=WATCH_POLL_S)
        except BaseException:
            _stop_terraform(process)
            raise
    if process.returncode != 0:
        raise TerraformError(f"terraform {args[0]} failed: {_terraform_error(log_file)} (log: {log_file})")


def _stop_terraform(process: subprocess.Popen) -> None:
    """Interrupt terraform as Ctrl-C would (twice: the second stops it without waiting for calls in
    flight), then kill what is left -- its provider processes too: a terraform killed under load
    leaves them orphaned, still running in the stack directory."""
    plugins: set[int] = set()
    for sig, wait in ((signal.SIGINT, 3.0), (signal.SIGINT, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        plugins |= descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
    for pid in plugins:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _terraform_error(log_file: Path) -> str:
    return last_error(log_file.read_text(errors="replace")[-20000:])


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
    """What a user needs to call the running API; ``examples``: the enabled plugins' example
    requests, rendered (core/local/api_hooks.py)."""
    lines = [f"API: {record.url}"]
    for name, value in sorted(record.api_keys.items()):
        lines.append(f"API key: {value}   ({name})")
    return lines + list(examples)


def follow(run: LocalRun, record: RunRecord, *, poll_s: float = 0.2) -> str:
    """Print the gateway's log (function output, access log) until a signal or a process dies;
    returns why it stopped."""
    stop: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    log_file = run.run_dir / "gateway.log"
    try:
        with open(log_file, errors="replace") as log:
            while not stop:
                line = log.readline()
                if line:
                    run.say(line.rstrip("\n"))
                    continue
                if not alive(record.gateway_pid):
                    return f"the gateway stopped: {last_line(log_file)}"
                if not alive(record.emulator_pid):
                    return f"the emulator stopped: {last_line(run.run_dir / 'emulator.log')}"
                time.sleep(poll_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stop[0]


def console(line: str) -> None:
    """Print a progress line to the terminal -- unless it is gone. Teardown never depends on it:
    `make up 2>&1 | tee up.log` then Ctrl-C kills tee first (EPIPE), a closed terminal answers EIO.
    Then stdout (and stderr, when it is the same pipe or terminal) go to /dev/null from here on,
    so neither this, nor the interpreter's flush at exit, fails again."""
    try:
        print(line, flush=True)
    except OSError:
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        stdout = os.fstat(1)
        same = [2] if _same_file(stdout, 2) else []
        for fd in (1, *same):
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _same_file(stat: os.stat_result, fd: int) -> bool:
    try:
        other = os.fstat(fd)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (stat.st_dev, stat.st_ino)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While a local command works, SIGTERM and SIGHUP interrupt it as Ctrl-C does, so whatever it
    started is torn down (their default action would end the process with nothing cleaned up)."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def default_run(config_path: str | None = None, say: Say = print) -> LocalRun:
    path = Path(config_path) if config_path else None
    return LocalRun(run_dir_for(path), say=say)


def planned_changes(
    run: LocalRun, record: RunRecord, *, terraform_binary: str | None = None, provider_mirror: str | None = None
) -> list[str]:
    """`terraform plan -detailed-exitcode` on the running deployment: the resource changes it
    would make (empty: the emulator holds exactly what was applied)."""
    assert record.stack_dir is not None
    terraform = Terraform.locate(run.run_dir, binary=terraform_binary, mirror=provider_mirror)
    stack_dir = Path(record.stack_dir)
    result = terraform.run(
        ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-out=local.tfplan", PARALLELISM],
        stack_dir,
        timeout=APPLY_TIMEOUT_S,
    )
    if result.returncode == 0:
        return []
    if result.returncode != 2:
        raise TerraformError(f"terraform plan failed: {last_error(result.stderr or result.stdout)}")
    shown = terraform.run(["show", "-json", "local.tfplan"], stack_dir, timeout=120)
    plan = json.loads(shown.stdout)
    changes = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        attributes = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        changes.append(f"{change['address']}: {'/'.join(actions)} {', '.join(attributes)}".rstrip())
    return changes
