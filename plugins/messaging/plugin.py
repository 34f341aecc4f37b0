"""messaging plugin (placeholder until its issue lands)."""
from payments_platform.core import PluginDeclaration, hookimpl


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(name="messaging", description="messaging (not yet built)")
