"""Which property changes make a real engine replace a resource instead of updating it.

The offline plan has no provider to ask, so ``tenantctl diff`` predicts replacements from
these tables:

- Kubernetes: the provider's own ``forceNew`` table (pulumi-kubernetes
  ``provider/pkg/provider/diff.go``): ``metadata.name``/``metadata.namespace`` of every kind,
  plus per kind the immutable fields below. Secrets and ConfigMaps are replaced when their
  data changes, because the platform's Kubernetes providers leave ``enableSecretMutable`` /
  ``enableConfigMapMutable`` off (the provider's default).
- AWS: ``ForceNew`` attributes of terraform-provider-aws, which pulumi-aws bridges, for
  the types the platform declares (camelCase, as the plan records inputs). A type that is
  not listed is replaced only when its physical name changes.
- Pulumi itself: a resource's ``replaceOnChanges`` option, and the dynamic database
  bootstrap's own ``diff`` (it replaces only for another tenant id).

Paths are dotted, with ``[*]`` for every list item, and match a change at or below them.
"""

from __future__ import annotations

from collections.abc import Mapping

_LABEL_SELECTOR = ("spec.selector",)
_CONTAINER = tuple(f"{prefix}.{field}" for prefix in ("spec.containers[*]", "spec.initContainers[*]")
                   for field in ("args", "command", "env", "image", "imagePullPolicy", "lifecycle",
                                 "livenessProbe", "ports", "readinessProbe", "resources",
                                 "securityContext", "stdin", "stdinOnce", "terminationMessagePath",
                                 "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts",
                                 "workingDir"))
_POD = tuple(f"spec.{field}" for field in (
    "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "enableServiceLinks",
    "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostname", "imagePullSecrets", "nodeName",
    "nodeSelector", "overhead", "preemptionPolicy", "priority", "priorityClassName", "readinessGates",
    "restartPolicy", "runtimeClassName", "schedulerName", "securityContext", "serviceAccount",
    "serviceAccountName", "shareProcessNamespace", "subdomain", "terminationGracePeriodSeconds",
    "volumes")) + _CONTAINER

#: Kubernetes kind -> immutable fields (beyond metadata.name and metadata.namespace).
KUBERNETES: Mapping[str, tuple[str, ...]] = {
    "Deployment": _LABEL_SELECTOR,
    "DaemonSet": _LABEL_SELECTOR,
    "StatefulSet": ("spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector",
                    "spec.serviceName", "spec.volumeClaimTemplates"),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "Pod": _POD,
    "PersistentVolumeClaim": ("spec.accessModes", "spec.selector", "spec.storageClassName",
                              "spec.volumeName"),
    "ResourceQuota": ("spec.scopes",),
    "Service": ("spec.clusterIP",),
    "Secret": ("type", "stringData", "data"),
    "ConfigMap": ("binaryData", "data"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "StorageClass": ("parameters", "provisioner"),
}
KUBERNETES_METADATA = ("metadata.name", "metadata.namespace")

#: AWS type token -> ForceNew inputs (physical names first).
AWS: Mapping[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:iam/policy:Policy": ("name", "namePrefix", "path", "description"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("url",),
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": ("secretArn",),
    "aws:secretsmanager/secretRotation:SecretRotation": ("secretId",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretId", "secretString", "secretBinary"),
    "aws:rds/instance:Instance": ("identifier", "identifierPrefix", "availabilityZone", "dbName",
                                  "engine", "kmsKeyId", "storageEncrypted", "username",
                                  "characterSetName", "timezone"),
    "aws:rds/proxy:Proxy": ("name", "engineFamily"),
    "aws:rds/proxyTarget:ProxyTarget": ("dbProxyName", "targetGroupName", "dbInstanceIdentifier",
                                        "dbClusterIdentifier"),
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": ("dbProxyName",),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "namePrefix"),
    "aws:rds/parameterGroup:ParameterGroup": ("name", "namePrefix", "family", "description"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "instanceTenancy", "ipv4IpamPoolId"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "vpcId", "description"),
    "aws:ec2/natGateway:NatGateway": ("subnetId", "allocationId", "connectivityType"),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/route:Route": ("routeTableId", "destinationCidrBlock"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId",),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix"),
    "aws:ec2/flowLog:FlowLog": ("vpcId", "subnetId", "logDestination", "logDestinationType",
                                "trafficType", "iamRoleArn", "logFormat"),
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": ("transitGatewayId", "vpcId"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId",),
    "aws:eks/cluster:Cluster": ("name", "encryptionConfig", "kubernetesNetworkConfig",
                                "outpostConfig", "bootstrapSelfManagedAddons"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeGroupNamePrefix",
                                    "subnetIds", "amiType", "capacityType", "diskSize",
                                    "instanceTypes", "nodeRoleArn", "remoteAccess"),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn", "type"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("clusterName", "principalArn",
                                                                "policyArn", "accessScope"),
    "aws:eks/addon:Addon": ("addonName", "clusterName"),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix"),
    "aws:serverlessrepository/cloudFormationStack:CloudFormationStack": ("name",),
}

#: Bucket sub-resources: all are keyed by the bucket they configure.
BUCKET_KEYED = "aws:s3/bucket"

#: Types whose every input change replaces (random values are generated once).
REPLACED_ON_ANY_CHANGE = ("random:",)


def force_new_paths(type_: str) -> tuple[str, ...]:
    """The inputs whose change replaces a resource of this type (dotted paths)."""
    if type_.startswith("kubernetes:"):
        return KUBERNETES_METADATA + KUBERNETES.get(type_.rsplit(":", 1)[-1], ())
    if type_.startswith(BUCKET_KEYED) and type_ != "aws:s3/bucket:Bucket":
        return ("bucket", "expectedBucketOwner")
    return AWS.get(type_, ())


def covers(force_new: str, changed: str) -> bool:
    """Whether a changed path lies at or below a force-new path (``[*]`` matches any index)."""
    parts, want = _split(changed), _split(force_new)
    if len(parts) < len(want):
        return False
    return all(w == p or (w == "[*]" and p.startswith("[")) for w, p in zip(want, parts, strict=False))


def _split(path: str) -> list[str]:
    out: list[str] = []
    for chunk in path.split("."):
        while "[" in chunk:
            head, _, rest = chunk.partition("[")
            if head:
                out.append(head)
            index, _, chunk = rest.partition("]")
            out.append(f"[{index}]")
        if chunk:
            out.append(chunk)
    return out
