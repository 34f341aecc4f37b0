"""``local up --watch``: a saved change is served in seconds, against the deployed configuration.

Two paths, chosen by what changed (watchfiles reports the saves):

* **code** (the source trees of the deployed zip packages -- ``runtime/`` -- found by content,
  package_sources.py): compile every module (a syntax error stops here) → rebuild the package
  exactly as synth wrote it, the saved files read anew → Lambda's UpdateFunctionCode on the
  emulator for each function deployed from it → read each function back (its deployed CodeSha256
  must be the new package's) → the gateway swaps the function specs and recycles their
  containers. Seconds; no Terraform.
* **infrastructure** (``plugins/``, ``extensions/``, ``environments.toml``, and the source of every
  enabled plugin installed in development mode): synthesize in the warm synthesizer (warm_synth.py:
  one process kept across saves, forgetting the watched modules before each synth so changed plugin
  code is imported anew; a fresh process when it is unavailable) → ``terraform apply`` of the difference, without a
  refresh (the emulator holds exactly what was applied) → the functions and the REST API read back
  → the gateway reloads both.

A failure at any step prints one line and leaves the last good version serving; each reload
prints what changed and how long it took. Requests in flight finish on the code and configuration
they started with (LambdaService.replace_functions). Terraform state does not learn of a runtime
reload: the next apply deploys the same package from synth, so the two never disagree for long.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from payments_platform.core.errors import PlatformError
from payments_platform.core.local.deployed_stack import DeployedStack, Served
from payments_platform.core.local.gateway_spec import GatewaySpec
from payments_platform.core.local.lambdafn.deployed_functions import read_function
from payments_platform.core.local.lambdafn.service import FunctionSpec
from payments_platform.core.local.package_sources import PackageSource, find_sources, is_under
from payments_platform.core.local.processes import emulator_client
from payments_platform.core.local.warm_synth import (
    SynthRefused,
    WarmSynthesizer,
    WarmSynthUnavailable,
    editable_plugin_sources,
)

# watchfiles: yield once saves have settled for STEP_MS, at most DEBOUNCE_MS after the first.
STEP_MS = 50
DEBOUNCE_MS = 400
INFRASTRUCTURE_SUFFIXES = (".py", ".toml", ".json")
RELOAD_TIMEOUT_S = 30.0
SYNTH_TIMEOUT_S = 300
APPLY_TIMEOUT_S = 600
CONTROL_SOCKET = "control.sock"

Say = Callable[[str], None]


class ReloadFailed(PlatformError):
    """One step of a reload failed; the message is the one line the developer sees."""


@dataclasses.dataclass
class DevLoop:
    """What a running ``local up`` needs to reload itself; ``watch`` runs until ``stop`` is set."""

    run_dir: Path
    endpoint: str
    region: str
    stack_dir: Path
    config_path: Path
    environment_name: str
    terraform: Any  # core.ops.terraform.Terraform
    # Where the deployed packages' source trees are looked for (package_sources.py); default: the
    # directory of environments.toml -- the project.
    search: tuple[Path, ...] = ()
    say: Say = print
    build_cache_dir: Path | None = None
    _sources: list[PackageSource] | None = None
    _stop_apply: threading.Event = dataclasses.field(default_factory=threading.Event)
    # The package each function was last hot-swapped to: Terraform's state does not know it, so an
    # apply that leaves the function's code alone leaves this package deployed.
    _swapped: dict[str, Path] = dataclasses.field(default_factory=dict)
    # The CodeSha256 of the code the gateway serves, per function (known once a reload has looked).
    _served_code: dict[str, str] = dataclasses.field(default_factory=dict)
    _synthesizer: WarmSynthesizer | None = None
    _plugin_sources: list[Path] | None = None

    @property
    def spec_file(self) -> Path:
        return self.run_dir / "gateway-spec.json"

    @property
    def infrastructure_paths(self) -> list[Path]:
        root = self.config_path.parent
        own = [p for p in (root / "plugins", root / "extensions", self.config_path) if p.exists()]
        return own + self.plugin_sources

    @property
    def plugin_sources(self) -> list[Path]:
        """The source of each enabled plugin installed in development mode (issue #29 item 5)."""
        if self._plugin_sources is None:
            from payments_platform.core.hookspec import ENTRY_POINT_GROUP
            from payments_platform.core.host.config import load_config

            try:
                (environment,) = load_config(self.config_path).select([self.environment_name])
                enabled: tuple[str, ...] = environment.plugins
            except PlatformError:
                enabled = ()  # a broken environments.toml: the next save says why
            root = self.config_path.parent
            self._plugin_sources = editable_plugin_sources(enabled, ENTRY_POINT_GROUP, exclude=[root])
        return self._plugin_sources

    @property
    def sources(self) -> list[PackageSource]:
        """The source trees of the deployed zip packages, found once per deployed configuration."""
        if self._sources is None:
            search = list(self.search) or [self.config_path.parent]
            packages = sorted(set(DeployedStack(self.endpoint, self.region, self.stack_dir).packages().values()))
            self._sources = [find_sources(package, search) for package in packages]
        return self._sources

    @property
    def code_dirs(self) -> list[Path]:
        return sorted({tree for source in self.sources for tree in source.trees.values()})

    # -- the loop ---------------------------------------------------------------------------
    def watch(self, stop: threading.Event) -> None:
        import watchfiles

        if self._synthesizer is None:  # warms up (~seconds) while the developer reads the URL
            self._synthesizer = WarmSynthesizer([p for p in self.infrastructure_paths if p.is_dir()])
            self._synthesizer.start()

        code = ", ".join(str(p) for p in self.code_dirs) or "no source tree of a deployed package"
        self.say(
            f"watching {code} (code: seconds) and "
            f"{', '.join(str(p) for p in self.infrastructure_paths)} (infrastructure: terraform apply)"
        )
        for changes in watchfiles.watch(
            *self.code_dirs,
            *self.infrastructure_paths,
            watch_filter=self._relevant,
            stop_event=stop,
            step=STEP_MS,
            debounce=DEBOUNCE_MS,
            rust_timeout=200,
            yield_on_timeout=False,
        ):
            if stop.is_set():
                return
            self.reload({Path(path) for _, path in changes}, stop=stop)

    def _relevant(self, _change: Any, path: str) -> bool:
        name = os.path.basename(path)
        return name.endswith(INFRASTRUCTURE_SUFFIXES) and "__pycache__" not in path and not name.startswith(".")

    def reload(self, paths: set[Path], *, stop: threading.Event | None = None) -> bool:
        """One reload for a set of saved paths; False when it failed (and the last good version serves)."""
        code = {p for p in paths if any(is_under(p, tree) for tree in self.code_dirs)}
        started = time.perf_counter()
        bases = [tree.parent for tree in self.code_dirs] + [self.config_path.parent]
        what = ", ".join(sorted(_shown(p, *bases) for p in paths))
        try:
            if paths - code:
                summary = self.reload_infrastructure()
            else:
                summary = "; ".join(
                    self.reload_code(source) for source in self.sources if any(source.covers(p) for p in code)
                )
        except Exception as failure:  # one line, and the watcher goes on watching
            if stop is None or not stop.is_set():
                reason = str(failure) if isinstance(failure, ReloadFailed) else f"{type(failure).__name__}: {failure}"
                self.say(f"✗ {what}: {reason} -- still serving the last good version")
            return False
        self.say(f"↻ {what}: {summary} in {time.perf_counter() - started:.1f} s")
        return True

    # -- code ---------------------------------------------------------------------------------
    def reload_code(self, source: PackageSource) -> str:
        """The package rebuilt from its saved sources, deployed to every function that runs it."""
        phases = _Phases()
        for tree in source.trees.values():
            _compile_all(tree)
        try:
            package = source.rebuild(self.build_cache_dir or self.run_dir / "packages")
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ReloadFailed(f"cannot package {', '.join(source.trees)}: {exc}") from None
        phases.done("package")
        spec = GatewaySpec.read(self.spec_file)
        packages = DeployedStack(self.endpoint, self.region, self.stack_dir).packages()
        names = sorted(n for n, path in packages.items() if path == source.package and n in spec.function_names)
        lambda_client = emulator_client("lambda", self.endpoint, self.region)
        deployed = {n: lambda_client.get_function_configuration(FunctionName=n)["CodeSha256"] for n in names}
        for name, sha in deployed.items():
            self._served_code.setdefault(name, sha)  # what the gateway serves until this reload
        if set(deployed.values()) == {package.source_code_hash}:
            return "the package is unchanged (nothing to deploy)"
        code_root = self.run_dir / "functions" / package.sha256_hex[:12]
        _unpack_once(package.path, code_root, names)
        data = package.path.read_bytes()

        def deploy(name: str) -> FunctionSpec:
            client = emulator_client("lambda", self.endpoint, self.region)  # one per thread
            client.update_function_code(FunctionName=name, ZipFile=data)
            return read_function(client, name, package.path, code_root)

        with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
            updated = dict(zip(names, pool.map(deploy, names)))
        phases.done("UpdateFunctionCode")
        for name in updated:
            self._swapped[name] = package.path
            self._served_code[name] = package.source_code_hash
        functions = tuple(updated.get(f.name, f) for f in spec.functions)
        changed = self._tell_gateway(spec.with_functions(functions, spec.credentials), api=False)
        phases.done("gateway")
        return (
            f"{len(names)} function(s) updated to CodeSha256 {package.source_code_hash[:12]}…, "
            f"new containers for {', '.join(changed) or 'none'} ({phases})"
        )

    # -- infrastructure ----------------------------------------------------------------------
    def reload_infrastructure(self) -> str:
        phases = _Phases()
        staging = self.run_dir / "cdktf.next"
        shutil.rmtree(staging, ignore_errors=True)
        self._synthesize(staging)
        new_stack = staging / "stacks" / self.stack_dir.name
        if not (new_stack / "cdk.tf.json").is_file():
            raise ReloadFailed(f"synth wrote no stack {self.stack_dir.name}")
        phases.done("synth")
        self._note_served_code()
        targets = changed_resources(
            json.loads((self.stack_dir / "cdk.tf.json").read_text()),
            json.loads((new_stack / "cdk.tf.json").read_text()),
        )
        _replace_configuration(self.stack_dir, new_stack)
        shutil.rmtree(staging, ignore_errors=True)
        self._sources = None  # new packages: their sources are looked up again
        applied = self._apply(targets)
        phases.done("apply")
        spec = GatewaySpec.read(self.spec_file)
        served = Served(spec.functions, spec.credentials, dict(self._served_code), dict(self._swapped))
        deployed = DeployedStack(self.endpoint, self.region, self.stack_dir).functions(
            self.run_dir / "functions", served
        )
        self._served_code.update(deployed.code)
        phases.done("read back")
        changed = self._tell_gateway(spec.with_functions(deployed.functions, deployed.credentials), api=True)
        phases.done("gateway")
        functions = f"new containers for {', '.join(changed)}" if changed else "functions unchanged"
        return f"terraform {applied}; the gateway reloaded the deployed API, {functions} ({phases})"

    def _synthesize(self, outdir: Path) -> None:
        if self._synthesizer is not None:
            try:
                self._synthesizer.synthesize(self.config_path, self.environment_name, self.endpoint, outdir)
                return
            except SynthRefused as refused:
                raise ReloadFailed(f"synth failed: {refused}") from None
            except WarmSynthUnavailable as gone:
                self.say(f"(the warm synthesizer is unavailable: {gone}; a fresh process synthesizes this save)")
        command = [
            sys.executable,
            "-m",
            "payments_platform.core.local.watch",
            "--config",
            str(self.config_path),
            "--env",
            self.environment_name,
            "--endpoint",
            self.endpoint,
            "--out",
            str(outdir),
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=SYNTH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ReloadFailed(f"synth did not finish within {SYNTH_TIMEOUT_S} s") from None
        if result.returncode != 0:
            lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
            raise ReloadFailed(f"synth failed: {lines[-1] if lines else f'exit {result.returncode}'}")

    def _apply(self, targets: list[str] | None = None) -> str:
        """``targets``: the resources the edit changed and those referring to them (changed_resources);
        None: all of them."""
        from payments_platform.core.errors import TerraformError

        try:
            output = self.terraform.apply(
                self.stack_dir,
                self.run_dir / "terraform.log",
                parallelism=20,
                refresh=False,  # the emulator holds exactly what was applied
                timeout=APPLY_TIMEOUT_S,
                stop=self._stop_apply,
                note="   (watch)",
                targets=targets or (),
            )
        except TerraformError as exc:
            raise ReloadFailed(str(exc)) from None
        summary = re.search(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", output)
        scope = f" ({len(targets)} resource(s) targeted)" if targets else ""
        return (
            f"{summary[1]} added, {summary[2]} changed, {summary[3]} destroyed{scope}"
            if summary
            else f"applied (no changes){scope}"
        )

    def close(self) -> None:
        if self._synthesizer is not None:
            self._synthesizer.close()
            self._synthesizer = None

    def stop_apply(self) -> None:
        """Ctrl-C reaches terraform through the terminal; SIGTERM does not: stop it here too (and its
        provider processes with it: the runner stops the whole tree)."""
        self._stop_apply.set()

    def _note_served_code(self) -> None:
        """The CodeSha256 each served function has before an apply changes anything."""
        lambda_client = emulator_client("lambda", self.endpoint, self.region)
        for function in GatewaySpec.read(self.spec_file).functions:
            if function.name not in self._served_code:
                configuration = lambda_client.get_function_configuration(FunctionName=function.name)
                self._served_code[function.name] = configuration["CodeSha256"]

    # -- the gateway --------------------------------------------------------------------------
    def _tell_gateway(self, spec: GatewaySpec, *, api: bool) -> list[str]:
        next_spec = self.spec_file.with_name("gateway-spec.next.json")
        spec.write(next_spec)
        request = json.dumps({"spec": str(next_spec), "api": api}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
                control.settimeout(RELOAD_TIMEOUT_S)
                control.connect(str(self.run_dir / CONTROL_SOCKET))
                control.sendall(request)
                answer = json.loads(control.makefile("rb").readline() or b"{}")
        except (OSError, ValueError) as exc:
            raise ReloadFailed(f"the gateway did not take the reload: {exc}") from None
        if not answer.get("ok"):
            raise ReloadFailed(f"the gateway refused the reload: {answer.get('error', answer)}")
        next_spec.replace(self.spec_file)
        return list(answer.get("changed", []))


def _compile_all(tree: Path) -> None:
    """Every module of a source tree compiles, or ReloadFailed names the first that does not."""
    for path in sorted(tree.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = f"{path.relative_to(tree.parent)}:{exc.lineno}"
            raise ReloadFailed(f"{where}: {type(exc).__name__}: {exc.msg}") from None
        except ValueError as exc:  # null bytes
            raise ReloadFailed(f"{path}: {exc}") from None


class _Phases:
    """How long each step of a reload took, for its one line."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._steps: list[str] = []

    def done(self, step: str) -> None:
        now = time.perf_counter()
        self._steps.append(f"{step} {now - self._last:.1f} s")
        self._last = now

    def __str__(self) -> str:
        return ", ".join(self._steps)


def _unpack_once(package: Path, code_root: Path, functions: list[str]) -> None:
    """The package unpacked once under ``code_root``, each function's code directory a link to it
    (read_function then finds it in place): one unpack, not one per function."""
    unpacked = code_root / "package"
    if not unpacked.exists():
        staging = code_root / ".package.unpacking"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(package) as archive:
            archive.extractall(staging)
        staging.rename(unpacked)
    for name in functions:
        link = code_root / name
        if not link.exists():
            link.symlink_to("package", target_is_directory=True)


MAX_TARGETS = 25  # beyond it a targeted plan saves little: apply everything
_REFERENCE = re.compile(r"\$\{(?:data\.)?([a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)")


def changed_resources(old: dict[str, Any], new: dict[str, Any]) -> list[str] | None:
    """The addresses an edit changed (added, removed or with another body) and, transitively, every
    resource referring to one of them -- what a targeted apply must cover for the result to equal a
    full one. None when anything but resources changed (providers, data, outputs, moved blocks...),
    nothing did, or too much did: then everything is applied. Cuts Terraform's graph for a one-resource
    edit from the whole stack to the edit (issue #31: edit → served ≤ 10 s)."""
    if {k: v for k, v in old.items() if k not in ("resource", "//")} != {
        k: v for k, v in new.items() if k not in ("resource", "//")
    }:
        return None
    bodies_old, bodies_new = _resource_bodies(old), _resource_bodies(new)
    changed = {a for a in bodies_old.keys() | bodies_new.keys() if bodies_old.get(a) != bodies_new.get(a)}
    if not changed:
        return None
    referrers: dict[str, set[str]] = {}
    for address, body in bodies_new.items():
        for referenced in _REFERENCE.findall(body):
            referrers.setdefault(referenced, set()).add(address)
    targets, todo = set(changed), list(changed)
    while todo:
        for referrer in referrers.get(todo.pop(), ()):
            if referrer not in targets:
                targets.add(referrer)
                todo.append(referrer)
    return sorted(targets) if len(targets) <= MAX_TARGETS else None


def _resource_bodies(config: dict[str, Any]) -> dict[str, str]:
    return {
        f"{kind}.{name}": json.dumps(body, sort_keys=True)
        for kind, bodies in (config.get("resource") or {}).items()
        for name, body in bodies.items()
    }


def _replace_configuration(stack_dir: Path, new_stack: Path) -> None:
    """The new configuration and assets into the stack directory; Terraform's working files
    (.terraform, its lock file) stay, so no new ``init`` is needed."""
    keep = {".terraform", ".terraform.lock.hcl"}
    for entry in stack_dir.iterdir():
        if entry.name not in keep:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for entry in new_stack.iterdir():
        if entry.name not in keep:
            entry.rename(stack_dir / entry.name)


def _shown(path: Path, *bases: Path) -> str:
    for base in bases:
        if is_under(path, base):
            return str(path.resolve().relative_to(base.resolve()))
    return str(path)


def start(loop: DevLoop) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=loop.watch, args=(stop,), name="local-watch", daemon=True)
    thread.start()
    return thread, stop


def finish(loop: DevLoop, thread: threading.Thread, stop: threading.Event) -> None:
    stop.set()
    loop.stop_apply()
    thread.join(timeout=RELOAD_TIMEOUT_S)
    loop.close()


# --------------------------------------------------------------------------- synth (warm_synth.py keeps one warm)


def synthesize_one(config: str, environment_name: str, endpoint: str, out: Path) -> str | None:
    """Synthesize one environment pointed at the running emulator; None, or the one line to show."""
    try:
        from payments_platform.core.host.config import load_config
        from payments_platform.core.host.synth import synthesize

        (environment,) = load_config(config).select([environment_name])
        synthesize([dataclasses.replace(environment, aws_endpoint=endpoint)], out)
    except SyntaxError as exc:
        return f"{exc.filename}:{exc.lineno}: SyntaxError: {exc.msg}"
    except Exception as exc:  # one line for the watching terminal, whatever the plugin did
        return f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return None


def _synth_main(argv: Iterable[str] | None = None) -> int:
    """Synthesize in a fresh process: the fallback when the warm synthesizer is unavailable."""
    parser = argparse.ArgumentParser(prog="payments_platform.core.local.watch")
    parser.add_argument("--config", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(list(argv) if argv is not None else None)
    error = synthesize_one(args.config, args.env, args.endpoint, Path(args.out))
    if error is not None:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_synth_main())
