"""Resource-aware IAM authorization for the emulator (moto 5.2.5).

moto's IAM enforcement evaluates a request's action against the statement's ``Resource`` only for
SQS, IAM and STS; every other service is authorized against ``"*"``, so a least-privilege Allow
scoped to one table, topic, secret or log group is *denied* there. This module tells moto which
resource(s) each call touches, as AWS does, for the calls our handlers make (and their
neighbours):

* DynamoDB: any call naming ``TableName`` on the table ARN (``IndexName`` on the index ARN);
  ``TransactWriteItems`` as ``PutItem`` / ``UpdateItem`` / ``DeleteItem`` / ``ConditionCheckItem``
  per item on its own table, ``TransactGetItems`` as ``GetItem`` per item, ``BatchGetItem`` /
  ``BatchWriteItem`` per table;
* SNS: calls naming ``TopicArn`` / ``TargetArn`` on that ARN;
* Secrets Manager: calls naming ``SecretId`` on the secret's full ARN (a name or partial ARN is
  resolved to it, as AWS does before it evaluates the policy);
* CloudWatch Logs: log-stream calls on ``log-group:NAME:log-stream:STREAM``, log-group calls on
  ``log-group:NAME``; a statement on either ``log-group:NAME`` or ``log-group:NAME:*`` matches.

An explicit Deny on any of the resources wins; a call is allowed only when every authorization it
needs is allowed. Conditions are left to moto: it checks ``StringEquals`` against the values a
request supplies and a data-plane request supplies none, so e.g. a ``kms:ViaService`` condition
neither blocks nor grants anything beyond its own (KMS) actions.

Upstream (two fixes in moto): let each service's response class declare the (action, resource)
pairs a request needs -- generalising the ``_determine_resource`` hook SQS and IAM already have
into a list -- and have ``IAMRequestBase.check_action_permitted`` evaluate each pair; and render
authentication and authorization errors in the protocol of the service called (JSON for
DynamoDB, Logs, Secrets Manager), where moto answers IAM's XML and clients see only "403".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from payments_platform.core.local.emulator.patching import Patches

ParamReader = Callable[[str], Any]

_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_LOG_STREAM_ACTIONS = frozenset({"PutLogEvents", "GetLogEvents", "DeleteLogStream"})
PATCHES = Patches("authorization")


@dataclass(frozen=True)
class Authorization:
    """One permission a request needs: ``action`` on any one of ``resources`` (ARN spellings of the
    same resource that a policy may name)."""

    action: str
    resources: tuple[str, ...]


@dataclass(frozen=True)
class RequestScope:
    partition: str
    region: str
    account_id: str


# --------------------------------------------------------------------------- per service


def dynamodb_authorizations(action: str, param: ParamReader, scope: RequestScope) -> list[Authorization] | None:
    def table_arn(name: str) -> str:
        if name.startswith("arn:"):  # DynamoDB accepts a table ARN wherever it takes a name
            return name
        return f"arn:{scope.partition}:dynamodb:{scope.region}:{scope.account_id}:table/{name}"

    if action == "TransactWriteItems":
        needed = []
        for item in param("TransactItems") or []:
            for kind, operation in item.items():
                needed.append(
                    Authorization(f"dynamodb:{_TRANSACT_WRITE_ACTIONS[kind]}", (table_arn(operation["TableName"]),))
                )
        return needed
    if action == "TransactGetItems":
        return [
            Authorization("dynamodb:GetItem", (table_arn(item["Get"]["TableName"]),))
            for item in param("TransactItems") or []
        ]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [Authorization(f"dynamodb:{action}", (table_arn(name),)) for name in param("RequestItems") or {}]
    table = param("TableName")
    if not table:
        return None
    index = param("IndexName") if action in ("Query", "Scan") else None
    resource = f"{table_arn(table)}/index/{index}" if index else table_arn(table)
    return [Authorization(f"dynamodb:{action}", (resource,))]


def sns_authorizations(action: str, param: ParamReader, scope: RequestScope) -> list[Authorization] | None:
    arn = param("TopicArn") or param("TargetArn")
    return [Authorization(f"sns:{action}", (arn,))] if arn else None


def secretsmanager_authorizations(action: str, param: ParamReader, scope: RequestScope) -> list[Authorization] | None:
    from moto.secretsmanager.models import secretsmanager_backends

    secret_id = param("SecretId")
    if not secret_id:
        return None
    secret = secretsmanager_backends[scope.account_id][scope.region].secrets.get(secret_id)
    if secret is not None:
        arn = secret.arn
    elif secret_id.startswith("arn:"):
        arn = secret_id
    else:  # unknown name: AWS evaluates against the name's ARN prefix before answering not-found
        arn = f"arn:{scope.partition}:secretsmanager:{scope.region}:{scope.account_id}:secret:{secret_id}"
    return [Authorization(f"secretsmanager:{action}", (arn,))]


def logs_authorizations(action: str, param: ParamReader, scope: RequestScope) -> list[Authorization] | None:
    group = param("logGroupName") or param("logGroupIdentifier")
    if not group:
        return None
    if group.startswith("arn:"):
        group_arn = group.removesuffix(":*")
    else:
        group_arn = f"arn:{scope.partition}:logs:{scope.region}:{scope.account_id}:log-group:{group}"
    stream = param("logStreamName")
    if stream and (action in _LOG_STREAM_ACTIONS or action == "CreateLogStream"):
        resources = (f"{group_arn}:log-stream:{stream}", group_arn)
    else:
        resources = (group_arn, f"{group_arn}:*")
    return [Authorization(f"logs:{action}", resources)]


RESOLVERS: dict[str, Callable[[str, ParamReader, RequestScope], list[Authorization] | None]] = {
    "dynamodb": dynamodb_authorizations,
    "sns": sns_authorizations,
    "secretsmanager": secretsmanager_authorizations,
    "logs": logs_authorizations,
}


def required_authorizations(response: Any) -> list[Authorization] | None:
    """What the request held by moto ``response`` needs; None leaves it to moto (resource ``*``)."""
    resolver = RESOLVERS.get(getattr(response, "service_name", None) or "")
    if resolver is None:
        return None
    from moto.utilities.utils import get_partition

    try:
        scope = RequestScope(get_partition(response.region), response.region, response.current_account)
        return resolver(response._get_action(), response._get_param, scope)
    except (KeyError, TypeError, AttributeError, ValueError):
        # A malformed request: moto's own validation answers it after the default check.
        return None


# --------------------------------------------------------------------------- the check


# The error each service answers a denied call with (moto answers every service with IAM's XML).
_DENIAL_CODES = {
    "dynamodb": "AccessDeniedException",
    "secretsmanager": "AccessDeniedException",
    "logs": "AccessDeniedException",
    "sns": "AuthorizationError",
}


def access_denied(service: str, user_arn: str, needed: Authorization) -> Exception:
    from moto.core.exceptions import JsonRESTError, _RESTError

    message = f"User: {user_arn} is not authorized to perform: {needed.action} on resource: {needed.resources[0]}"
    code = _DENIAL_CODES.get(service, "AccessDenied")
    error = _RESTError(code, message) if service == "sns" else JsonRESTError(code, message)
    error.code = 403
    return error


def _resource_aware_request_class() -> type:
    from moto.iam.access_control import IAMPolicy, IAMRequest, PermissionResult

    class ResourceAwareIAMRequest(IAMRequest):
        """moto's IAMRequest, evaluating each needed (action, resource) instead of one action on ``*``."""

        def __init__(self, *args: Any, authorizations: list[Authorization], **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._authorizations = authorizations

        def check_action_permitted(self, resource: str) -> None:
            policies = [IAMPolicy(policy) for policy in self._access_key.collect_policies()]
            for needed in self._authorizations:
                results = {
                    policy.is_action_permitted(needed.action, candidate)
                    for policy in policies
                    for candidate in needed.resources
                }
                if PermissionResult.DENIED in results or PermissionResult.PERMITTED not in results:
                    raise access_denied(self._service, self._access_key.arn, needed)

    return ResourceAwareIAMRequest


@PATCHES.replaces("moto.iam.access_control:IAMRequestBase", "_create_aws_request")
def signature_of_bodiless_requests(original: Any) -> Any:
    """Verify the SigV4 signature of a request without a body (a REST GET or DELETE) over the
    empty payload the client signed.

    Upstream: moto.iam.access_control.IAMRequestBase._create_aws_request signs
    ``self._body or self._data``; for an empty body ``_data`` is the parsed query string -- or, for
    some REST services (Lambda's GetFunctionConfiguration), the request headers -- so every such
    request fails with SignatureDoesNotMatch once IAM enforcement is on. ``_data`` should stand in
    only for a form body werkzeug has already consumed (``application/x-www-form-urlencoded``)."""

    def _create_aws_request(self: Any) -> Any:
        content_type = next((v for k, v in self._headers.items() if k.lower() == "content-type"), "")
        if self._body or "x-www-form-urlencoded" in str(content_type):
            return original(self)
        data, self._data = self._data, b""
        try:
            return original(self)
        finally:
            self._data = data

    return _create_aws_request


def _is_json_protocol(response: Any) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith("application/x-amz-json")


def install() -> None:
    """Patch moto's access control to authorize on real resources (idempotent)."""
    PATCHES.install()


@PATCHES.replaces("moto.core.authorization:ActionAuthenticatorMixin", "_authenticate_and_authorize_normal_action")
def resource_aware_authorization(original: Any) -> Any:
    """Authorize each request on the resources it touches (see the module's note).

    Upstream: moto should let each service's response class declare the (action, resource) pairs
    of a request; see the module's docstring for both fixes."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError, _RESTError

    request_class = _resource_aware_request_class()

    def authorize(self: Any, resource: str = "*") -> None:
        enforcing = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        authorizations = required_authorizations(self) if enforcing else None
        try:
            if not authorizations:
                return original(self, resource)
            self._authenticate_and_authorize_action(
                functools.partial(request_class, authorizations=authorizations), resource
            )
        except _RESTError as error:
            # moto answers every authentication failure in IAM's XML; a JSON-protocol client
            # (DynamoDB, Logs, Secrets Manager, ...) then sees only "403" as the error code.
            if _is_json_protocol(self) and not isinstance(error, JsonRESTError):
                raise error.to_json() from None
            raise

    return authorize
