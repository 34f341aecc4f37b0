"""api plugin (placeholder until its issue lands)."""
from payments_platform.core import PluginDeclaration, hookimpl


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(name="api", description="api (not yet built)")
