"""Pulumi entry point: read which stack this is from config, build it from the registry."""

from pathlib import Path

import pulumi

from components.program import build_stack
from tenants.loader import load_registry
from tenants.stacks import StackConfig, stack_for

config = pulumi.Config("tenant-platform")
stack_config = StackConfig(
    role=config.require("role"),  # type: ignore[arg-type]
    environment=config.get("environment") or "prod",
    cell=config.get("cell") or None,
    tenant=config.get("tenant") or None,
)
registry = load_registry(Path(__file__).parent / (config.get("registry") or "tenants/registry"))
build_stack(stack_for(stack_config, registry))
