"""The deployed REST APIs behind the gateway's one port.

Every API is served at ``/restapis/{api_id}/{stage}/_user_request_/...`` (LocalStack's form of an
execute-api URL); the first by name also at ``/{stage}/...``, the URL ``local up`` prints -- with one
API, as API Gateway's own URL reads. An API added or removed by a reload (``--watch``) is served
or gone at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from payments_platform.core.local.apigw.deployed_api import DeployedApi
from payments_platform.core.local.apigw.gateway import LocalGateway
from payments_platform.core.local.asgi import Receive, Scope, Send, send_response

_USER_REQUEST = re.compile(r"^/restapis/(?P<api_id>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<rest>/.*)?$")


class ApiRouter:
    def __init__(self, apis: Sequence[DeployedApi], new_gateway: Callable[[DeployedApi], LocalGateway]) -> None:
        self._new_gateway = new_gateway
        self.gateways: dict[str, LocalGateway] = {}
        self.default: LocalGateway | None = None
        self.replace(apis)

    def replace(self, apis: Sequence[DeployedApi]) -> None:
        gateways = {api.id: self._new_gateway(api) for api in sorted(apis, key=lambda a: a.name)}
        self.gateways, self.default = gateways, next(iter(gateways.values()), None)

    def urls(self, base: str) -> dict[str, str]:
        """API name → its URL under ``base`` (http://host:port)."""
        urls = {}
        for gateway in self.gateways.values():
            api = gateway.api
            urls[api.name] = (
                f"{base}/{api.stage}"
                if gateway is self.default
                else f"{base}/restapis/{api.id}/{api.stage}/_user_request_"
            )
        return urls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway, match = self.default, _USER_REQUEST.match(scope.get("path", ""))
        if match is not None and match["api_id"] in self.gateways:
            gateway = self.gateways[match["api_id"]]
            scope = {**scope, "path": f"/{match['stage']}{match['rest'] or ''}"}
        if gateway is None:
            await send_response(send, 404, {"message": "no REST API is deployed"})
            return
        await gateway(scope, receive, send)
