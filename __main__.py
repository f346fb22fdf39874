"""Pulumi entry point: read which stack this is from config, build it from the registry."""

from pathlib import Path

import pulumi

from components.program import build_stack
from tenants.loader import load_registry, registry_directory
from tenants.stacks import StackConfig, stack_for

config = pulumi.Config("tenant-platform")
stack_config = StackConfig(
    role=config.require("role"),  # type: ignore[arg-type]
    environment=config.get("environment") or "prod",
    cell=config.get("cell") or None,
    tenant=config.get("tenant") or None,
)
# The registry: the stack's `tenant-platform:registry` (tenantctl sets it to the directory it
# was given), else $TENANTCTL_REGISTRY, else the sample fleet; relative to the project.
registry = load_registry(registry_directory(config.get("registry"), base=Path(__file__).parent))
build_stack(stack_for(stack_config, registry))
