"""Running the real terraform binary, offline through a provider mirror when one exists.

One runner for every command that runs terraform (ops, ``local up``/``down``, ``--watch``):
whatever stops a run early -- a timeout, a problem the caller watches for, a stop request,
Ctrl-C -- stops terraform's whole process tree, its provider processes included.

The mirror is found in this order: an explicit path (``--provider-mirror``), the
``PAYMENTS_TF_PROVIDER_MIRROR`` environment variable, then well-known locations that hold
``registry.terraform.io/hashicorp/aws``. Without a mirror terraform uses the registry as
usual — the mirror is never required.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from payments_platform.core.errors import ConfigError, TerraformError
from payments_platform.core.ops.process_tree import INTERRUPT_THEN_KILL, dies_with_parent, stop_tree

MIRROR_ENV_VAR = "PAYMENTS_TF_PROVIDER_MIRROR"
GO_GC_PERCENT = "400"
TERRAFORM_ENV_VAR = "PAYMENTS_TERRAFORM"
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"

# Turns terraform's error output into one line with the fixing command, or None when it
# does not recognise the failure (core/ops/backend_errors.py explains state-backend failures).
Explain = Callable[[str], "str | None"]
# Asked while a logged run works: a reason to stop it now (one line for the user), or None.
Check = Callable[[], "str | None"]
POLL_S = 0.5


class TerraformStopped(TerraformError):
    """A terraform run was stopped before it finished: timed out, a checked problem, a stop request."""


def find_mirror(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    chosen = explicit or os.environ.get(MIRROR_ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if not (path / PROVIDER_ADDRESS).is_dir():
            raise ConfigError(f"provider mirror {path} has no {PROVIDER_ADDRESS} directory")
        return path
    for candidate in MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / PROVIDER_ADDRESS).is_dir():
            return path
    return None


def find_terraform(explicit: str | None = None) -> str:
    chosen = explicit or os.environ.get(TERRAFORM_ENV_VAR) or shutil.which("terraform")
    if not chosen or not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
        raise TerraformError(
            f"terraform binary not found (install Terraform ≥ 1.5, or set {TERRAFORM_ENV_VAR} / --terraform)"
        )
    return chosen


def cli_config(mirror: Path) -> str:
    # The mirror's unpacked layout doubles as a plugin cache, so init links the provider
    # binary instead of copying ~700 MB into every working directory.
    return f"""provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{PROVIDER_ADDRESS}"]
  }}
  direct {{
    exclude = ["{PROVIDER_ADDRESS}"]
  }}
}}
plugin_cache_dir = "{mirror}"
plugin_cache_may_break_dependency_lock_file = true
"""


@dataclass
class Terraform:
    binary: str
    mirror: Path | None
    config_dir: Path
    # How a run stopped early is stopped (a Ctrl-C's two interrupts, then SIGKILL): a test of a
    # terraform deaf to interrupts shortens the waits, not the steps.
    stop_steps: Sequence[tuple[signal.Signals, float]] = INTERRUPT_THEN_KILL

    @classmethod
    def locate(cls, work_dir: Path, *, binary: str | None = None, mirror: str | None = None) -> Terraform:
        return cls(find_terraform(binary), find_mirror(mirror), work_dir)

    @functools.cached_property
    def _cli_config_file(self) -> Path:
        # Absolute: terraform reads it from the stack directory, where a relative path (from a
        # relative --config) would name no file and init would fall back to the registry.
        rc = self.config_dir.resolve() / ".terraformrc"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        rc.write_text(cli_config(self.mirror))
        return rc

    def env(self, *, interactive: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
        # Terraform and the AWS provider are Go: at Go's default (GOGC=100) the collector re-marks
        # the provider's schema (thousands of resource types, built at every start, 2-3 starts a
        # command) again and again. 400: ~20 % less CPU a command for a larger peak (a refreshing
        # plan 670 → 850 MB; BENCHMARKS.md "Terraform's garbage collector"). A GOGC of the
        # caller's own wins.
        env.setdefault("GOGC", GO_GC_PERCENT)
        if not interactive:
            env["TF_INPUT"] = "0"
        if self.mirror is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self._cli_config_file)
        elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
            del env["TF_CLI_CONFIG_FILE"]  # a dangling setting only produces a warning
        return env

    def run(self, args: Sequence[str], cwd: Path, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run with its output captured."""
        process = subprocess.Popen(
            [self.binary, *args],
            cwd=cwd,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_tree(process, self.stop_steps)
            process.communicate()
            raise TerraformStopped(f"terraform {args[0]} timed out after {timeout:.0f} s in {cwd}") from None
        except BaseException:
            stop_tree(process, self.stop_steps)
            raise
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def run_logged(
        self,
        args: Sequence[str],
        cwd: Path,
        log_file: Path,
        *,
        timeout: float = 900,
        check: Check | None = None,
        stop: threading.Event | None = None,
        note: str = "",
    ) -> str:
        """Run with its output appended to ``log_file`` (apply, destroy of a local run); returns
        what this run wrote there. ``check`` is asked every POLL_S while it works, and ``stop``
        looked at: either stops it at once (TerraformStopped), as a timeout does. Not a new session:
        Ctrl-C reaches terraform too, which stops cleanly; killed, we leave it an interrupt
        (SIGTERM) rather than an emulator to retry."""
        with open(log_file, "ab") as log:
            log.write(f"\n$ terraform {' '.join(args)}{note}\n".encode())
            log.flush()
            start = log.tell()
            process = subprocess.Popen(
                [self.binary, *args],
                cwd=cwd,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=dies_with_parent(),
            )
            try:
                _wait(process, args[0], log_file, timeout, check, stop)
            except BaseException:
                stop_tree(process, self.stop_steps)
                raise
        output = log_file.read_bytes()[start:].decode(errors="replace")
        if process.returncode != 0:
            raise TerraformError(f"terraform {args[0]} failed: {last_error(output[-20000:])} (log: {log_file})")
        return output

    def stream(
        self, args: Sequence[str], cwd: Path, *, interactive: bool = False, explain: Explain | None = None
    ) -> None:
        """Run with terraform's own output on this terminal (apply, destroy). Its error output is
        held back and replaced by one line when ``explain`` recognises the failure."""
        process = subprocess.Popen(
            [self.binary, *args], cwd=cwd, env=self.env(interactive=interactive), stderr=subprocess.PIPE, text=True
        )
        try:
            _, stderr = process.communicate()
        except BaseException:
            stop_tree(process, self.stop_steps)
            raise
        if process.returncode != 0:
            known = explain(stderr) if explain else None
            if known:
                raise TerraformError(known)
            sys.stderr.write(stderr)
            raise TerraformError(
                f"terraform {args[0]} failed in {cwd} (exit {process.returncode}); see its output above"
            )

    def apply(
        self,
        stack_dir: Path,
        log_file: Path,
        *,
        parallelism: int = 10,
        refresh: bool = True,
        timeout: float = 900,
        check: Check | None = None,
        stop: threading.Event | None = None,
        note: str = "",
        targets: Sequence[str] = (),
    ) -> str:
        """``terraform apply`` without a prompt, logged (run_logged); returns its output. ``targets``:
        ``-target`` each (only ``local up --watch`` uses it, on an emulator)."""
        args = ["apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={parallelism}"]
        if not refresh:
            args.append("-refresh=false")
        args += [f"-target={address}" for address in targets]
        return self.run_logged(args, stack_dir, log_file, timeout=timeout, check=check, stop=stop, note=note)

    def destroy(self, stack_dir: Path, log_file: Path, *, parallelism: int = 10, timeout: float = 900) -> str:
        """``terraform destroy`` without a prompt, logged (run_logged); returns its output."""
        args = ["destroy", "-auto-approve", "-input=false", "-no-color", f"-parallelism={parallelism}"]
        return self.run_logged(args, stack_dir, log_file, timeout=timeout)

    def init(
        self, stack_dir: Path, *, backend: bool = False, explain: Explain | None = None, extra: Sequence[str] = ()
    ) -> None:
        args = ["init", "-input=false", "-no-color", *extra]
        if not backend:
            args.append("-backend=false")
        result = self.run(args, stack_dir)
        if result.returncode != 0:
            output = result.stderr or result.stdout
            known = explain(output) if explain else None
            raise TerraformError(known or f"terraform init failed in {stack_dir}: {last_error(output)}")

    def validate(self, stack_dir: Path) -> dict:
        result = self.run(["validate", "-json", "-no-color"], stack_dir)
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise TerraformError(f"terraform validate failed in {stack_dir}: {last_error(result.stderr)}") from None
        if not report.get("valid"):
            problems = [
                f"{d.get('severity')}: {d.get('summary')} ({d.get('address') or (d.get('range') or {}).get('filename', '')})"
                for d in report.get("diagnostics", [])
            ]
            raise TerraformError(f"terraform validate rejected {stack_dir.name}: " + "; ".join(problems))
        return report


def _wait(
    process: subprocess.Popen,
    command: str,
    log_file: Path,
    timeout: float,
    check: Check | None,
    stop: threading.Event | None,
) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise TerraformStopped(f"terraform {command} timed out after {timeout:.0f} s (log: {log_file})")
        problem = check() if check is not None else None
        if problem is not None:
            raise TerraformStopped(problem)
        if stop is not None and stop.is_set():
            raise TerraformStopped(f"terraform {command} was stopped (log: {log_file})")
        try:
            process.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass


def last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= set("│╷╵ ")]
    errors = [line.lstrip("│ ").strip() for line in lines if "Error" in line]
    return (errors or lines or ["(no output)"])[-1]
