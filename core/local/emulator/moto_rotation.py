"""Secrets Manager rotation in the emulator runs the *deployed* rotation function on the local
Lambda runtime, as AWS runs it on Lambda.

moto's RotateSecret calls the rotation function's steps (createSecret, setSecret, testSecret,
finishSecret) through moto's Lambda backend, which runs function code in Docker -- absent here, so
every rotation failed. Patched: during a RotateSecret, each step is posted to Lambda's Invoke API
as the local gateway process serves it (invoke_api.py, signed as the emulator's administrator):
the deployed package, in its container,
under its own role's identity. A step the function fails stops the rotation with
InvalidRequestException naming the step and the function's error type (AWS records the failed
rotation and the secret keeps its current version; the steps' own logs say why).

The gateway starts after the emulator (Terraform deploys the functions first), so the emulator
reads where it listens at call time from the gateway's ready file (``--lambda-runtime-file``;
``local up`` passes ``.payments-local/gateway.ready``). A rotation requested before the gateway
is up -- Terraform's ``aws_secretsmanager_secret_rotation`` during apply: with
``rotate_immediately = true`` the first rotation, which makes a value-less secret's first value,
with ``false`` only the test step -- runs its steps in order once the gateway is ready, in the
background: on AWS, too, RotateSecret returns before the function has run.

A secret created with no value can be rotated, as on AWS: the rotation's AWSPENDING version is
the first version, and finishSecret attaches AWSCURRENT to it with no RemoveFromVersionId (moto
failed both: no pending version without a prior one, IndexError on the stage move). Moving
AWSCURRENT makes the version the one GetSecretValue returns when no stage is named.

A RotateSecret that names no function rotates with the one configured on the secret, as on AWS
(``aws secretsmanager rotate-secret --secret-id ...``, the documented manual rotation); moto
instead forgot the configured function and made an empty version current. A rotation after a
finished one is accepted (moto refused it as "still in progress"), and a test-only rotation's
pending version holds the current value (moto left it empty when the value came by PutSecretValue).

Upstream: moto.secretsmanager.models.SecretsManagerBackend.rotate_secret can only reach moto's
Docker-based Lambda (an option to send Lambda invokes to an external Lambda endpoint would make
this patch unnecessary), should keep ``rotation_lambda_arn`` when the request has none, and should
accept AWSPENDING on the AWSCURRENT version as a finished rotation (it refused the next one), and
should copy the current version's value, not the creation value, into a test-only rotation's
pending version; rotate_secret should make the pending version of a secret with no versions, and
update_secret_version_stage should attach AWSCURRENT when no version holds it and update the
default version when AWSCURRENT moves.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from payments_platform.core.local.emulator.admin import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from payments_platform.core.local.emulator.patching import Patches

# A whole rotation step: the function's timeout (at most the api's 29 s) plus a cold start.
STEP_TIMEOUT_S = 60.0
# How long a rotation requested during `local up`'s apply waits for the gateway to start.
DEFERRED_WAIT_S = 600.0
PATCHES = Patches("rotation")

_lock = threading.Lock()
_runtime_file: Path | None = None
_rotation = threading.local()  # set while this thread runs a RotateSecret: whether it may wait
log = logging.getLogger(__name__)


class LocalLambdaUnavailable(Exception):
    pass


def local_lambda_endpoint(runtime_file: Path | None) -> str | None:
    """``http://host:port`` of the local Lambda Invoke API, or None while the gateway is not ready."""
    if runtime_file is None:
        return None
    try:
        ready = json.loads(runtime_file.read_text())
    except (OSError, ValueError):
        return None
    url = urlparse(ready.get("url", ""))
    return f"{url.scheme}://{url.hostname}:{ready['port']}" if url.hostname and ready.get("port") else None


def invoke_step(endpoint: str, function_arn: str, body: str | bytes, region: str) -> None:
    """One rotation step through the Invoke API; LocalLambdaUnavailable or RuntimeError when it fails."""
    name = function_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
    step = json.loads(body).get("Step", "?")
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    data = body.encode() if isinstance(body, str) else body
    # The Invoke API runs signed requests only (invoke_auth.py). Secrets Manager invokes as its
    # service principal on AWS; here the emulator signs as its administrator.
    signed = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY), "lambda", region).add_auth(signed)
    request = urllib.request.Request(url, data=data, method="POST", headers=dict(signed.headers.items()))
    try:
        with urllib.request.urlopen(request, timeout=STEP_TIMEOUT_S) as response:
            payload = response.read()
            failed = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as error:  # throttled, unknown function
        raise RuntimeError(f"{name} could not run {step}: HTTP {error.code}") from None
    except OSError as error:
        raise LocalLambdaUnavailable(f"the local Lambda runtime at {endpoint} did not answer: {error}") from None
    if failed:
        try:
            kind = json.loads(payload).get("errorType", "Unhandled")
        except ValueError:
            kind = "Unhandled"
        raise RuntimeError(f"{name} failed {step} ({kind}); its log group says why")


def _wait_and_invoke(runtime_file: Path | None, function_arn: str, bodies: list[str | bytes], region: str) -> None:
    """A rotation's steps, in order, once the gateway is ready; the first failed step ends it (as on
    AWS: the pending version stays, the next RotateSecret starts over)."""
    deadline = time.monotonic() + DEFERRED_WAIT_S
    while (endpoint := local_lambda_endpoint(runtime_file)) is None:
        if time.monotonic() > deadline:
            log.warning("rotation steps for %s dropped: the local Lambda runtime never started", function_arn)
            return
        time.sleep(0.2)
    for body in bodies:
        try:
            invoke_step(endpoint, function_arn, body, region)
        except (RuntimeError, LocalLambdaUnavailable) as error:
            log.warning("deferred rotation step failed: %s", error)
            return


def _give_pending_the_current_value(secret: Any, token: str | None) -> None:
    """A test-only rotation's AWSPENDING version holds the current value, as on AWS (moto copied the
    value the secret was *created* with: none when it came by PutSecretValue, as Terraform sets it)."""
    pending = secret.versions.get(token) if token else None
    current = next((v for v in secret.versions.values() if "AWSCURRENT" in v["version_stages"]), None)
    if pending is not None and current is not None and pending is not current:
        for field in ("secret_string", "secret_binary"):
            if field in current:
                pending[field] = current[field]


def install(runtime_file: Path | None) -> None:
    """Route RotateSecret's Lambda steps to the local runtime whose ready file is ``runtime_file``."""
    global _runtime_file
    with _lock:
        _runtime_file = runtime_file
        PATCHES.install()


@PATCHES.replaces("moto.secretsmanager.models:SecretsManagerBackend", "rotate_secret")
def rotation_with_the_configured_function(original_rotate: Any) -> Any:
    """RotateSecret rotates with the configured function, accepts a rotation after a finished one,
    and marks the steps it invokes (see ``local_rotation_steps``).

    Upstream: moto.secretsmanager.models.SecretsManagerBackend.rotate_secret forgets the configured
    function when a call names none, and takes AWSPENDING beside AWSCURRENT for a rotation in progress."""

    def rotate_secret(self: Any, secret_id: str, *args: Any, **kwargs: Any) -> Any:
        secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
        if secret is not None:
            if not args and not kwargs.get("rotation_lambda_arn"):
                # AWS rotates with the configured function when the call names none; moto forgot it.
                kwargs["rotation_lambda_arn"] = getattr(secret, "rotation_lambda_arn", None) or None
            for version in getattr(secret, "versions", {}).values():
                # AWSPENDING beside AWSCURRENT marks a *finished* rotation (AWS's own rule);
                # moto took it for one in progress and refused every later rotation.
                if {"AWSPENDING", "AWSCURRENT"} <= set(version["version_stages"]):
                    version["version_stages"].remove("AWSPENDING")
            if not secret.versions:
                # A secret created with no value: its first rotation makes the first version (AWS
                # does; moto made no pending version and then failed on the missing version id).
                token = kwargs.get("client_request_token") or str(uuid.uuid4())
                kwargs["client_request_token"] = token
                secret.versions[token] = {
                    "createdate": int(time.time()),
                    "version_id": token,
                    "version_stages": ["AWSPENDING"],
                }
        immediate = kwargs.get("rotate_immediately", True)
        _rotation.test_only = not immediate
        _rotation.secret = secret
        _rotation.deferred = []
        default_version = getattr(secret, "default_version_id", None)
        try:
            result = original_rotate(self, secret_id, *args, **kwargs)
        finally:
            deferred, function_arn = _rotation.deferred, getattr(secret, "rotation_lambda_arn", "")
            del _rotation.test_only, _rotation.secret, _rotation.deferred
        if deferred:
            # moto made the pending version the default as if its steps had run; they have not yet.
            secret.default_version_id = default_version
            threading.Thread(
                target=_wait_and_invoke,
                args=(_runtime_file, function_arn, deferred, self.region_name),
                name="deferred-rotation-steps",
                daemon=True,
            ).start()
        return result

    return rotate_secret


@PATCHES.replaces("moto.secretsmanager.models:SecretsManagerBackend", "update_secret_version_stage")
def first_current_version(original_update: Any) -> Any:
    """AWSCURRENT may be attached with no RemoveFromVersionId when no version holds it (a rotation
    making a value-less secret's first value), and the version it moves to is the secret's default.

    Upstream: moto.secretsmanager.models.SecretsManagerBackend.update_secret_version_stage raises
    IndexError in that case and never updates ``default_version_id``."""

    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> Any:
        secret = self.secrets[secret_id] if secret_id in self.secrets else None
        if (
            secret is not None
            and version_stage == "AWSCURRENT"
            and not remove_from_version_id
            and move_to_version_id in secret.versions
            and not any("AWSCURRENT" in v["version_stages"] for v in secret.versions.values())
        ):
            secret.versions[move_to_version_id]["version_stages"].append("AWSCURRENT")
            secret.default_version_id = move_to_version_id
            return secret.arn, secret.name
        result = original_update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if secret is not None and version_stage == "AWSCURRENT" and move_to_version_id:
            secret.default_version_id = move_to_version_id
        return result

    return update_secret_version_stage


@PATCHES.replaces("moto.awslambda.models:LambdaBackend", "invoke")
def local_rotation_steps(original_invoke: Any) -> Any:
    """A rotation step's Invoke goes to the local Lambda runtime, not to Docker.

    Upstream: see this module's note (moto can only reach moto's own Docker-based Lambda)."""
    from moto.secretsmanager.exceptions import InvalidRequestException

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> Any:
        if not hasattr(_rotation, "test_only"):
            return original_invoke(self, function_name, qualifier, body, headers, response_headers)
        if _rotation.test_only and _rotation.secret is not None:
            _give_pending_the_current_value(_rotation.secret, json.loads(body).get("ClientRequestToken"))
        endpoint = local_lambda_endpoint(_runtime_file)
        if endpoint is None:
            if _runtime_file is None:
                raise InvalidRequestException(
                    "the local Lambda runtime is not running: start it with `payments-platform local up`"
                )
            _rotation.deferred.append(body)  # run in order once the gateway is up (rotate_secret)
            return b""
        try:
            invoke_step(endpoint, function_name, body, self.region_name)
        except (RuntimeError, LocalLambdaUnavailable) as error:
            raise InvalidRequestException(f"rotation failed: {error}") from None
        return b""

    return invoke
