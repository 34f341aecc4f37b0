"""Snapshots of a good local deployment: what makes the second ``local up`` warm (issue #31).

After a successful ``up`` the run directory keeps, under ``snapshots/<key>/``: the emulator's whole
state (``moto.pickle``, written by the emulator itself -- emulator/snapshot.py), the Terraform state
that describes it, and the gateway spec (the function identities' keys live only there). A
``manifest.json`` written last names every file with its sha256, what the key was made of and the
stack's resource addresses; a directory without one is not a snapshot.

The key is what determines the deployment: the synthesized stack (with the per-run emulator endpoint
replaced by a placeholder), and -- the *compatibility* part -- the snapshot format, Python, moto,
botocore, cryptography, the emulator layer's own source (its patch set), Terraform and the AWS
provider. Same key: restore and serve. Same compatibility, other stack: restore the nearest (most
resources in common, then newest) and let ``terraform apply`` make the difference. Anything a
snapshot cannot prove (a hash that does not match, a file the emulator cannot read) is refused in
one line and the cold path runs.

Snapshots hold the emulator's secrets (KMS key material, the fingerprint secret, API key values):
the directory is 0700, the files 0600, and nothing here copies them anywhere else.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

SNAPSHOTS_DIR_NAME = "snapshots"
# The test suite shares one store between the run directories of its many deployments.
SNAPSHOTS_ENV_VAR = "PAYMENTS_LOCAL_SNAPSHOTS"
MANIFEST = "manifest.json"
EMULATOR_STATE = "moto.pickle"
TERRAFORM_STATE = "terraform.tfstate"
GATEWAY_SPEC = "gateway-spec.json"
KEEP = 3  # per store: the newest; older ones only cost disk
ENDPOINT_PLACEHOLDER = "<emulator-endpoint>"
_ENDPOINT = re.compile(r"http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+")


class SnapshotRefused(Exception):
    """This snapshot cannot be restored; the message is the one line ``local up`` says."""


@dataclass(frozen=True)
class Snapshot:
    directory: Path
    manifest: Mapping[str, Any]

    @property
    def key(self) -> str:
        return str(self.manifest["key"])

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(self.manifest.get("resources", ()))

    def file(self, name: str) -> Path:
        return self.directory / name

    def verify(self) -> None:
        """Every file there, whole (sha256 as the manifest says); SnapshotRefused otherwise."""
        for name, expected in sorted(self.manifest.get("files", {}).items()):
            try:
                actual = _sha256(self.file(name))
            except OSError as error:
                raise SnapshotRefused(f"{name} unreadable ({error.strerror or error})") from None
            if actual != expected:
                raise SnapshotRefused(f"{name} damaged (sha256 differs from its manifest)")


@dataclass(frozen=True)
class StackIdentity:
    """What a deployment's snapshot is keyed by (see the module's docstring)."""

    environment: str
    compatibility: Mapping[str, str]
    stack_sha256: str
    resources: frozenset[str]

    @property
    def compatibility_key(self) -> str:
        return _digest(json.dumps({"environment": self.environment, **self.compatibility}, sort_keys=True))

    @property
    def key(self) -> str:
        return _digest(self.compatibility_key + self.stack_sha256)[:32]


def stack_identity(
    environment: str, config_text: str, endpoint: str, tool_versions: Mapping[str, str]
) -> StackIdentity:
    """``config_text``: the stack's cdk.tf.json as synthesized; ``tool_versions``: Terraform's and
    the provider's (``terraform version -json`` in the initialized stack)."""
    normalized = config_text.replace(endpoint, ENDPOINT_PLACEHOLDER)
    normalized = _ENDPOINT.sub(ENDPOINT_PLACEHOLDER, normalized)  # any other per-run endpoint
    config = json.loads(normalized)
    resources = frozenset(
        f"{kind}.{name}" for kind, bodies in (config.get("resource") or {}).items() for name in bodies
    )
    return StackIdentity(environment, {**emulator_versions(), **tool_versions}, _digest(normalized), resources)


def emulator_versions() -> dict[str, str]:
    """The emulator side of compatibility: a pickle is only as portable as the classes it names."""
    from payments_platform.core.local.emulator import snapshot

    versions = {"format": str(snapshot.FORMAT), "python": ".".join(platform.python_version_tuple()[:2])}
    for distribution in ("moto", "botocore", "cryptography"):
        versions[distribution] = metadata.version(distribution)
    versions["emulator_patches"] = _patch_set_sha256()
    return versions


def _patch_set_sha256() -> str:
    """The emulator layer's own source: another patch set may build other objects."""
    emulator_dir = Path(__file__).parent / "emulator"
    digest = hashlib.sha256()
    for source in sorted(emulator_dir.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


class SnapshotStore:
    """The snapshots of one run directory (or the suite's shared store)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_run(cls, run_dir: Path) -> SnapshotStore:
        shared = os.environ.get(SNAPSHOTS_ENV_VAR)
        return cls(Path(shared) if shared else run_dir / SNAPSHOTS_DIR_NAME)

    def snapshots(self) -> list[Snapshot]:
        """Every complete snapshot, newest first (a directory without a readable manifest is skipped)."""
        found = []
        for directory in self.directory.glob("*/") if self.directory.is_dir() else ():
            try:
                manifest = json.loads((directory / MANIFEST).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and directory.name == manifest.get("key"):
                found.append(Snapshot(directory, manifest))
        return sorted(found, key=lambda s: float(s.manifest.get("created", 0)), reverse=True)

    def choose(self, identity: StackIdentity) -> tuple[Snapshot | None, str]:
        """The snapshot to start from, and why (one line): the same stack, else the nearest one
        of the same compatibility, else None."""
        candidates = self.snapshots()
        compatible = [s for s in candidates if s.manifest.get("compatibility_key") == identity.compatibility_key]
        for snapshot in compatible:
            if snapshot.key == identity.key:
                return snapshot, "the same stack"
        if not compatible:
            if candidates:
                return None, _incompatibility(candidates[0], identity)
            return None, "no snapshot yet"
        nearest = max(compatible, key=lambda s: (len(s.addresses & identity.resources), s.manifest["created"]))
        differ = len(nearest.addresses ^ identity.resources)
        return nearest, f"the nearest stack ({differ} resource(s) added or removed, others may change)"

    def save(self, identity: StackIdentity, files: Mapping[str, Path]) -> Snapshot:
        """Move ``files`` (name → a file to take) into a new snapshot of ``identity``, manifest last,
        replacing one of the same key; then keep only the newest KEEP."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.directory))
        try:
            for name, source in files.items():
                shutil.copyfile(source, incoming / name)
                os.chmod(incoming / name, 0o600)
            manifest = {
                "key": identity.key,
                "environment": identity.environment,
                "compatibility_key": identity.compatibility_key,
                "compatibility": dict(identity.compatibility),
                "stack_sha256": identity.stack_sha256,
                "resources": sorted(identity.resources),
                "files": {name: _sha256(incoming / name) for name in files},
                "created": time.time(),
            }
            (incoming / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            os.chmod(incoming / MANIFEST, 0o600)
            target = self.directory / identity.key
            if target.exists():
                shutil.rmtree(target)
            os.replace(incoming, target)
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        for old in self.snapshots()[KEEP:]:
            shutil.rmtree(old.directory, ignore_errors=True)
        return Snapshot(target, manifest)

    def incoming_file(self, name: str) -> Path:
        """Where the emulator writes its state before ``save`` takes it (a name it accepts)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.directory / f".{name}.{os.getpid()}"

    def forget(self) -> int:
        """Remove every snapshot; how many there were."""
        count = len(self.snapshots())
        shutil.rmtree(self.directory, ignore_errors=True)
        return count


def _incompatibility(snapshot: Snapshot, identity: StackIdentity) -> str:
    theirs = snapshot.manifest.get("compatibility") or {}
    if snapshot.manifest.get("environment") != identity.environment:
        return f"the snapshots are of environment {snapshot.manifest.get('environment')}"
    changed = sorted(k for k in {**theirs, **identity.compatibility} if theirs.get(k) != identity.compatibility.get(k))
    return "snapshots made with another " + ", ".join(changed) if changed else "snapshots of another kind"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
