"""storage plugin (placeholder until its issue lands)."""
from payments_platform.core import PluginDeclaration, hookimpl


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(name="storage", description="storage (not yet built)")
