"""`payments-platform state bootstrap | migrate | unlock`: the remote state's life cycle.

bootstrap creates the bucket and key an environment's ``[state]`` names (core/ops/state_bucket.py);
migrate moves a local state into it with terraform's ``-migrate-state``, refusing to overwrite
state already there; unlock shows who holds a lock and releases one by its ID.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import ConfigError, TerraformError
from payments_platform.core.host.state_backend import lock_key, state_s3_client
from payments_platform.core.host.synth import new_app
from payments_platform.core.ops.stack_workspace import StackWorkspace
from payments_platform.core.ops.state_bucket import build_state_bucket_stack, stack_name
from payments_platform.core.ops.terraform import Terraform, last_error

BOOTSTRAP_OUT = "cdktf.state.out"
MIGRATED_SUFFIX = ".migrated"


def require_remote_state(env: EnvironmentConfig) -> None:
    if env.state is None:
        raise ConfigError(
            f"environment '{env.name}' keeps local state: add [environments.{env.name}.state] "
            "(bucket, key_prefix, region, kms_key_id) to environments.toml first"
        )


# --------------------------------------------------------------------------- bootstrap


def bootstrap(
    env: EnvironmentConfig, synth_out: str | Path, *, binary: str | None = None, mirror: str | None = None
) -> str:
    """Create (or confirm) the state bucket and key; returns what happened, in one line."""
    require_remote_state(env)
    state = env.state
    assert state is not None
    if not state.kms_key_id.startswith("alias/"):
        raise ConfigError(
            f"[environments.{env.name}.state] kms_key_id names an existing key ({state.kms_key_id}); bootstrap creates "
            "the key under an alias: set kms_key_id = 'alias/<name>', or create the bucket yourself"
        )
    outdir = Path(synth_out).resolve().parent / BOOTSTRAP_OUT
    shutil.rmtree(outdir, ignore_errors=True)
    app = new_app(outdir)
    build_state_bucket_stack(app, env)
    app.synth()
    stack_dir = outdir / "stacks" / stack_name(state)
    terraform = Terraform.locate(outdir, binary=binary, mirror=mirror)
    terraform.init(stack_dir, backend=True)
    plan = terraform.run(
        ["plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=bootstrap.tfplan"], stack_dir
    )
    if plan.returncode == 0:
        return (
            f"state bucket {state.bucket} and key {state.kms_key_id} are in place ({state.region}); nothing to change"
        )
    if plan.returncode != 2:
        raise TerraformError(_explain_bootstrap(plan.stderr or plan.stdout, env, stack_dir))
    applied = terraform.run(["apply", "-input=false", "-no-color", "bootstrap.tfplan"], stack_dir)
    if applied.returncode != 0:
        raise TerraformError(_explain_bootstrap(applied.stderr or applied.stdout, env, stack_dir))
    return (
        f"state bucket {state.bucket} ready in {state.region}, encrypted with {state.kms_key_id}; its own state is "
        f"{(stack_dir / '../../..').resolve()}/terraform.{stack_name(state)}.tfstate — keep it"
    )


def _explain_bootstrap(output: str, env: EnvironmentConfig, stack_dir: Path) -> str:
    state = env.state
    assert state is not None
    if "BucketAlreadyOwnedByYou" in output:
        return (
            f"bucket {state.bucket} already exists in your account but not in this machine's bootstrap state: copy "
            f"terraform.{stack_name(state)}.tfstate from whoever bootstrapped it, or import it: terraform "
            f"-chdir={stack_dir} import aws_s3_bucket.state_bucket {state.bucket}"
        )
    if "BucketAlreadyExists" in output:
        return f"bucket name {state.bucket} is taken by another AWS account (names are global): choose another in [environments.{env.name}.state]"
    if "AlreadyExistsException" in output and "alias" in output:
        return f"KMS alias {state.kms_key_id} already exists: point kms_key_id at a new alias, or at that key's ARN and create the bucket yourself"
    return f"state bootstrap failed for {state.bucket}: {last_error(output)}"


# --------------------------------------------------------------------------- migrate


def migrate(
    env: EnvironmentConfig, synth_out: str | Path, *, binary: str | None = None, mirror: str | None = None
) -> str:
    """Copy the environment's local state into its S3 backend; the local file is kept, renamed."""
    require_remote_state(env)
    workspace = StackWorkspace.prepare(env, synth_out, binary=binary, mirror=mirror, init=False)
    local_file = (workspace.stack_dir / env.state_file).resolve()
    if not local_file.is_file():
        raise ConfigError(f"no local state to migrate at {local_file}")
    local = _read_state(local_file)
    target = workspace.state_location

    workspace.terraform.init(workspace.stack_dir, backend=True, explain=workspace.explain)
    existing = _pulled_state(workspace)
    if existing is not None:
        raise TerraformError(
            f"{target} already holds state (serial {existing.get('serial')}, {len(existing.get('resources') or [])} "
            f"resources): refusing to overwrite it; nothing was changed (local state still at {local_file})"
        )

    # terraform migrates from the backend the working directory was last initialised with:
    # initialise it with the local backend, then re-initialise with S3 and -migrate-state.
    config_file = workspace.stack_dir / "cdk.tf.json"
    remote_config = config_file.read_text()
    local_config = json.loads(remote_config)
    local_config["terraform"]["backend"] = {"local": {"path": env.state_file}}
    try:
        config_file.write_text(json.dumps(local_config, indent=2))
        workspace.terraform.init(workspace.stack_dir, backend=True, extra=["-reconfigure"])
    finally:
        config_file.write_text(remote_config)
    workspace.terraform.init(
        workspace.stack_dir, backend=True, explain=workspace.explain, extra=["-migrate-state", "-force-copy"]
    )
    migrated = _pulled_state(workspace)
    # terraform may give the copy a new lineage and serial; what must match is every resource.
    if migrated is None or migrated.get("resources") != local.get("resources"):
        raise TerraformError(
            f"the state at {target} does not match {local_file} after migration; the local file is untouched — "
            f"inspect with: terraform -chdir={workspace.stack_dir} state pull"
        )
    backup = local_file.with_name(local_file.name + MIGRATED_SUFFIX)
    local_file.rename(backup)
    return (
        f"migrated {len(local.get('resources') or [])} resources of {env.stack_name} to {target}; the local copy is "
        f"{backup} — delete it once verified (it holds the secret in clear)"
    )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"local state {path} is unreadable: {exc}") from None


def _pulled_state(workspace: StackWorkspace) -> dict[str, Any] | None:
    """The backend's state, or None when the key holds none (or only an empty state)."""
    pulled = workspace.run(["state", "pull"])
    if not pulled.stdout.strip():
        return None
    state = json.loads(pulled.stdout)
    return state if state.get("resources") or state.get("outputs") else None


# --------------------------------------------------------------------------- unlock


def current_lock(env: EnvironmentConfig) -> dict[str, Any] | None:
    """The lockfile's content (ID, Who, Operation, Created, ...) or None when unlocked."""
    require_remote_state(env)
    client = state_s3_client(env)
    assert env.state is not None
    try:
        body = client.get_object(Bucket=env.state.bucket, Key=lock_key(env))["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    except Exception as exc:  # botocore's ClientError family: one line, not a traceback
        raise TerraformError(f"cannot read the lock of {env.stack_name}: {exc}") from None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return {"ID": "(unreadable lockfile)"}


def describe_lock(env: EnvironmentConfig) -> str:
    lock = current_lock(env)
    if lock is None:
        return f"{env.stack_name}: not locked"
    return (
        f"{env.stack_name} is locked by {lock.get('Who')} ({lock.get('Operation')}, since {lock.get('Created')}, "
        f"lock ID {lock.get('ID')}); if no terraform run of that holder is still going, release it: "
        f"payments-platform state unlock --env {env.name} --lock-id {lock.get('ID')}"
    )


def unlock(
    env: EnvironmentConfig, lock_id: str, synth_out: str | Path, *, binary: str | None = None, mirror: str | None = None
) -> str:
    require_remote_state(env)
    lock = current_lock(env)
    if lock is None:
        return f"{env.stack_name}: not locked; nothing to release"
    if lock.get("ID") != lock_id:
        raise ConfigError(
            f"{env.stack_name} is locked with ID {lock.get('ID')} by {lock.get('Who')}, not {lock_id}: check who holds it "
            f"(payments-platform state unlock --env {env.name})"
        )
    workspace = StackWorkspace.prepare(env, synth_out, binary=binary, mirror=mirror)
    workspace.run(["force-unlock", "-force", lock_id])
    return f"released lock {lock_id} of {env.stack_name} (was held by {lock.get('Who')}, {lock.get('Operation')}, since {lock.get('Created')})"
