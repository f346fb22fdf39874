"""ChatbotStack: the tenant's AI chatbot over its own files.

The workload is the shared restricted Deployment/Service/HPA/PDB of
:mod:`components.workload`, running as the tenant's ``chatbot`` ServiceAccount. Its IRSA
role gets one inline policy (:func:`components.iam_documents.chatbot_policy`): read the
tenant's ``files/``, keep the tenant's chat history under ``chat-history/`` of the same
bucket (so it is encrypted with the tenant's key and versioned like the files), use the
tenant's key through S3, and Bedrock invocation of exactly the models the plan lists (its
``llm_models`` and its ``embedding_model``), in the cluster's region, and only through the
tenant's own inference profiles (:mod:`components.token_budget`), so every token is
metered to the tenant. Nothing else: no other bucket, no other key, no other Bedrock action
or model.

Vector store: pgvector in the tenant's own schema of its database (TenantDatabase). The
chatbot embeds the tenant's files with the plan's ``embedding_model`` (``EMBEDDING_MODEL``,
through ``bedrock:InvokeModel``) into a ``vector(EMBEDDING_DIMENSIONS)`` column under an
HNSW index; the plan keeps the dimensions within the 2000 an HNSW index on ``vector``
covers. The store is reached through RDS Proxy with IAM authentication and TLS
(``verify-full`` against the system trust store: RDS Proxy serves ACM certificates). The
chatbot holds no secret: it signs a short-lived IAM auth token with its role
(``rds-db:connect``, attached by TenantDatabase) for the database user; there is no
password anywhere in its configuration. The database user's own ``search_path`` (the
tenant schema, then the shared ``extensions`` schema holding pgvector's type) is set by
the database bootstrap, so the chatbot sends no ``options`` startup parameter (RDS Proxy
does not accept it); the schema is in its configuration for its migrations. Grants keep
the user in its schema. No store is shared across tenants.

Budget: the plan's daily token budget is *enforced* outside the chatbot by
:class:`components.token_budget.TokenBudget`: a per-tenant alarm over the tenant's
inference profiles and a budget guard that denies the chatbot role every Bedrock
invocation until the day (UTC) ends, so a tenant that spends its budget stops while the
others keep answering. The budgets are also in the chatbot's configuration (it refuses
requests beyond them) and in the tenant's alert rules (warning at 90%); the request rate
at the edge is limited by TenantNamespace's gateway rate limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_documents as docs
from components import workload as wl
from components.context import ClusterRef, TenantContext
from components.identity import WorkloadIdentity
from components.token_budget import TokenBudget, TokenBudgetArgs, budget_models, through_profiles
from tenants.plans import PlanSpec

DEFAULT_PORT = 8080
DATABASE_PORT = 5432


def chatbot_config(*, plan: PlanSpec, bucket: Any, key_arn: Any, region: str, port: int,
                   db_host: Any, db_port: pulumi.Input[int], db_name: Any, db_user: Any,
                   db_schema: Any, profiles: Any = None) -> dict[str, Any]:
    """The chatbot's environment: where the files, vector store and models are; no secret.

    ``profiles``: model id -> the tenant's inference profile ARN, the ``modelId`` the
    chatbot must send (as JSON in ``BEDROCK_PROFILES``): its role may invoke nothing else.
    """
    return {
        "FILES_BUCKET": bucket,
        "FILES_PREFIX": docs.FILES_PREFIX,
        "CHAT_HISTORY_PREFIX": docs.CHAT_HISTORY_PREFIX,
        "FILES_KMS_KEY_ARN": key_arn,
        "AWS_REGION": region,
        "BEDROCK_REGION": region,
        "BEDROCK_MODELS": ",".join(plan.llm_models),
        "BEDROCK_DEFAULT_MODEL": plan.llm_models[0],
        "EMBEDDING_MODEL": plan.embedding_model,
        "EMBEDDING_DIMENSIONS": str(plan.embedding_dimensions),
        "VECTOR_STORE": "pgvector",
        "PGHOST": db_host,
        "PGPORT": pulumi.Output.from_input(db_port).apply(str),
        "PGDATABASE": db_name,
        "PGUSER": db_user,
        "VECTOR_STORE_SCHEMA": db_schema,
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "system",
        "DB_AUTH": "iam",
        "BUDGET_REQUESTS_PER_DAY": str(plan.chatbot_budget.requests_per_day),
        "BUDGET_TOKENS_PER_DAY": str(plan.chatbot_budget.tokens_per_day),
        "BEDROCK_PROFILES": pulumi.Output.from_input(profiles or {}).apply(
            lambda p: json.dumps(dict(p), sort_keys=True)),
        "PORT": str(port),
        "METRICS_PORT": str(wl.METRICS_PORT),
        "TMPDIR": "/tmp",  # noqa: S108 - the pod's private emptyDir
    }


@dataclass(frozen=True, kw_only=True)
class ChatbotStackArgs:
    """Inputs of :class:`ChatbotStack`.

    ``identity``: the tenant's ``chatbot`` WorkloadIdentity. ``bucket_name``,
    ``bucket_arn``, ``key_arn``: the tenant's files (FileServerStack outputs).
    ``database_*``: TenantDatabase outputs: RDS Proxy endpoint, database name, IAM
    database user and the tenant's schema; ``database_port`` default 5432.
    ``image``: digest-pinned image, default the tenant's ECR repository at the pinned
    digest; ``port``: default 8080. ``scheduled_on``: the node group the pods are pinned to
    (:attr:`components.workload.TenantWorkloadArgs.scheduled_on`); default none.
    """

    ctx: TenantContext
    cluster: ClusterRef
    namespace: pulumi.Input[str]
    identity: WorkloadIdentity
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    database_endpoint: pulumi.Input[str]
    database_name: pulumi.Input[str]
    database_user: pulumi.Input[str]
    database_schema: pulumi.Input[str]
    database_port: pulumi.Input[int] = DATABASE_PORT
    image: str | None = None
    port: int = DEFAULT_PORT
    scheduled_on: Sequence[pulumi.Resource] = ()


class ChatbotStack(pulumi.ComponentResource):
    """The tenant's chatbot and its permissions (module docstring)."""

    service_name: pulumi.Output[str]
    service_url: pulumi.Output[str]

    def __init__(self, name: str, args: ChatbotStackArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:ChatbotStack", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        plan = ctx.tenant.plan
        budget = TokenBudget(f"{name}-token-budget", TokenBudgetArgs(
            ctx=ctx, cluster=cluster, chatbot_role_name=args.identity.role.name,
            chatbot_role_arn=args.identity.role.arn), pulumi.ResourceOptions(parent=self))
        model_arns = [docs.foundation_model_arn(cluster.partition, cluster.region, m)
                      for m in budget_models(plan.llm_models, plan.embedding_model)]
        policy = pulumi.Output.all(args.bucket_arn, args.key_arn, budget.profile_arns).apply(
            lambda v: json.dumps(through_profiles(
                docs.chatbot_policy(bucket=v[0], key_arn=v[1], region=cluster.region,
                                    partition=cluster.partition, models=plan.llm_models,
                                    embedding_model=plan.embedding_model),
                profile_arns=[v[2][m] for m in sorted(v[2])], model_arns=model_arns)))
        aws.iam.RolePolicy(f"{name}-permissions", name="chatbot-files-and-models",
                           role=args.identity.role.name, policy=policy,
                           opts=pulumi.ResourceOptions(parent=self))
        spec = wl.WorkloadSpec(
            workload="chatbot", port=args.port, size=plan.chatbot,
            config=chatbot_config(plan=plan, bucket=args.bucket_name, key_arn=args.key_arn,
                                  region=cluster.region, port=args.port, db_host=args.database_endpoint,
                                  db_port=args.database_port, db_name=args.database_name,
                                  db_user=args.database_user, db_schema=args.database_schema,
                                  profiles=budget.profile_arns))
        workload = wl.TenantWorkload(
            f"{name}-workload",
            wl.TenantWorkloadArgs(ctx=ctx, cluster=cluster, namespace=args.namespace,
                                  service_account_name=args.identity.service_account_name,
                                  spec=spec, image=args.image, scheduled_on=args.scheduled_on),
            pulumi.ResourceOptions(parent=self))
        self.service_name = workload.service_name
        self.service_url = pulumi.Output.from_input(chatbot_url(ctx.names.namespace, args.port))
        self.register_outputs({"service_name": self.service_name, "service_url": self.service_url})


#: Where the file server serves its chatbot to the tenant's users (the app's route).
PUBLIC_CHAT_PATH = "/chat/"


def public_chatbot_url(hostname: str) -> str:
    """The chatbot as the customer's users reach it: through the file server's host."""
    return f"https://{hostname}{PUBLIC_CHAT_PATH}"


def chatbot_url(namespace: str, port: int = DEFAULT_PORT) -> str:
    """Where the tenant's chatbot answers inside its namespace (the file server calls it)."""
    return f"http://{wl.service_host('chatbot', namespace)}:{port}"
