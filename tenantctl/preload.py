"""Load the provider SDK modules the program uses once, before stacks are planned in forks.

``pulumi_aws`` and ``pulumi_kubernetes`` import their service packages lazily: a package
(``pulumi_aws.ec2``, several hundred resource classes) is executed the first time the
program touches it. ``tenantctl plan`` plans each stack in a freshly forked process, so
without this every stack paid for those imports again (about 3.5 s of CPU per stack, a
fifth of a 24-tenant cell's plan). Loaded in the parent before forking, the modules are
inherited by every worker (and their pages shared between them).

``PROVIDER_MODULES`` names the lazily loaded packages the program reaches;
``tests/tenantctl/test_preload.py`` plans a fleet with every tier after :func:`preload`
and fails if planning still loads a provider module, so a component that starts using a
new service adds it here. A module missing from the list is only slower, never wrong.
"""

from __future__ import annotations

import importlib
import sys
import types

#: The provider packages the program's components and mocks reach, loaded by :func:`preload`.
PROVIDER_MODULES: tuple[str, ...] = (
    "pulumi_aws.bedrock", "pulumi_aws.cloudwatch", "pulumi_aws.ec2", "pulumi_aws.ec2transitgateway",
    "pulumi_aws.ecr", "pulumi_aws.eks", "pulumi_aws.iam", "pulumi_aws.kms", "pulumi_aws.lambda_",
    "pulumi_aws.rds", "pulumi_aws.s3", "pulumi_aws.secretsmanager", "pulumi_aws.serverlessrepository",
    "pulumi_aws.vpc",
    "pulumi_kubernetes.admissionregistration", "pulumi_kubernetes.admissionregistration.v1",
    "pulumi_kubernetes.apiextensions", "pulumi_kubernetes.apps", "pulumi_kubernetes.apps.v1",
    "pulumi_kubernetes.autoscaling", "pulumi_kubernetes.autoscaling.v2", "pulumi_kubernetes.helm",
    "pulumi_kubernetes.helm.v4", "pulumi_kubernetes.meta", "pulumi_kubernetes.meta.v1",
    "pulumi_kubernetes.policy", "pulumi_kubernetes.policy.v1", "pulumi_kubernetes.scheduling",
    "pulumi_kubernetes.scheduling.v1", "pulumi_kubernetes.storage", "pulumi_kubernetes.storage.v1",
)


def preload() -> None:
    """Execute every module of :data:`PROVIDER_MODULES` now (a no-op for those already loaded)."""
    for name in PROVIDER_MODULES:
        module = importlib.import_module(name)
        # A lazy module executes on its first attribute access (not on the standard
        # introspection attributes); afterwards it is an ordinary module.
        getattr(module, "__all__", None)


def unloaded_provider_modules() -> set[str]:
    """Provider modules imported lazily but not executed yet (what a plan would still load)."""
    return {name for name, module in list(sys.modules.items())
            if name.startswith(("pulumi_aws", "pulumi_kubernetes", "pulumi_random"))
            and module is not None and type(module) is not types.ModuleType}
