"""The version of the plugin contract, and a plugin's requirement on it.

``PLUGIN_API_VERSION`` is ``MAJOR.MINOR`` of everything a plugin author relies on: the hooks
(core/hookspec.py), the context keys and their value types (core/keys.py), the ``ctx``
facades (roles, monitoring, policy, outputs, compliance), :class:`PluginDeclaration`,
:class:`PluginSettings` and ``payments_platform.core.testing``.

- **MINOR** goes up when something is added that old plugins need not know about: a new
  hook, key, value field with a default, facade method or declaration field.
- **MAJOR** goes up when a plugin written against the previous version could break: a hook,
  key, field or method removed or renamed, an argument made required, a meaning changed.

A plugin states the range it was written for, e.g. ``PluginDeclaration(...,
requires_api=">=1.0,<2")`` (a PEP 440 specifier); a core outside that range refuses to
load it, naming the plugin, its requirement and this version.

History (each minor version only adds):

- **1.0** hooks, keys, value types with their grants, facades, declaration, settings, testing.
- **1.1** ``keys.Function`` and the api plugin's function keys (``TRANSACTION_PROCESSOR``, ...); the
  rules of who may add statements to whose role (core/roles.py: breaches refused for plugins
  written for 1.1, :class:`PluginDeprecationWarning` for plugins accepting 1.0);
  ``Table.grant_index_query/grant_backup/grant_export/grant_stream_read``, ``Table.stream_arn``,
  ``Function.grant_invoke``;
  ``ctx.roles.holds_grant_on``; ``stub_provider`` publishing any key, function handles included.
- **1.2** a ``keys.Function`` as the
  grantee of every grant (value grants, ``ctx.roles.grant``, ``Function.grant_invoke``); the
  keyword-only ``Function`` fields ``key``, ``physical_name``, ``resource``, ``log_group``;
  ``platform_function(ctx, id, key=..., role_description=...)`` returning the ``keys.Function`` with
  its role's basics granted and its monitoring registered, ``hardened_bucket(ctx, id, ...)``
  (the scope / ``name=``+``role=`` shapes still work, with a ``PluginDeprecationWarning``);
  ``function_package(ctx, id, source=..., runtime_support=..., vendor=...)`` packaging a plugin's own
  handler as the runtime's package is (reproducible, signed where the environment signs), with the
  ``FunctionPackage`` fields ``signer`` (:class:`~payments_platform.core.keys.CodeSigner`) and
  ``support`` (:class:`~payments_platform.core.keys.PackageTree`), ``BuiltZip``, ``store_zip``,
  ``tree_entries``, ``sign_package``; ``Network.require_service`` (an interface endpoint for a service
  the functions call) and ``Network.require_egress`` / ``platform_function(..., egress=Egress(...))``
  (internet egress for that function alone), ``Network.needs``; the PP-EGRESS synth warning;
  ``Topic.subscribe_queue/subscribe_function`` and the ``Topic`` fields ``physical_arn``,
  ``event_type_attribute``, ``event_types``; a key-policy statement naming a resource that depends
  on the key refused at synth (core/host/key_policy_cycles.py);
  ``PluginDeclaration.checkov_baseline`` (a distribution's reviewed checkov findings, capped per
  distribution; exemption rules by construction in core/ops/compliance/rules.py);
  ``keys.PAYMENT_CONNECTOR`` (a ``keys.Connector``: the function that authorizes payments, its
  invocation contract in ``payments_platform.runtime.connector_protocol``; at most one per
  environment, none: intake only); ``ctx.note`` (one line printed at synth); a ``uses`` that
  would close a cycle with a ``requires`` the other way yields to it (the user reads the key in a
  later phase); the ``payments_scaffold_kinds`` hook and :class:`ScaffoldKind` (what
  ``new-plugin --kind`` writes, beyond the core's generic ``queue``, is the plugins': the api plugin's
  ``connector``).
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from payments_platform.core.errors import PluginLoadError

PLUGIN_API_VERSION = "1.2"


def check_requires_api(plugin_label: str, requires_api: str) -> None:
    """Refuse a plugin whose ``requires_api`` range excludes :data:`PLUGIN_API_VERSION`
    (an empty requirement accepts every version)."""
    if not requires_api:
        return
    try:
        accepted = SpecifierSet(requires_api)
    except InvalidSpecifier:
        raise PluginLoadError(
            f"{plugin_label} declares requires_api={requires_api!r}, which is not a version range "
            "(write e.g. '>=1.0,<2')"
        ) from None
    if Version(PLUGIN_API_VERSION) not in accepted:
        raise PluginLoadError(
            f"{plugin_label} requires plugin API {requires_api}, but this payments-platform provides "
            f"plugin API {PLUGIN_API_VERSION}: install a version of the plugin written for {PLUGIN_API_VERSION}"
        )
