"""The price table (``prices.yaml``): AWS unit prices and usage assumptions, as data.

``tenantctl cost`` (:mod:`tenantctl.cost`) multiplies what a plan declares by these
prices. They are data, not code, so that a price change is a reviewed one-line edit with
its date and source beside it, and so that an estimate always says which prices it used
(``as_of``, ``source``). Prices are per region: a stack is priced in its own region, and
a region without prices is an error, never silently priced as another.

Usage-based charges (GB stored, logs ingested, NAT data, load balancer capacity units,
chatbot tokens) cannot be read from a plan; ``usage`` states the assumption for each plan
and for each stack, so the estimate is reproducible and its weakest inputs are visible.

A bad table is refused with one line per bad field (``prices.yaml: <field>: ...``).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tenants import strict_yaml
from tenants.problems import problems_from_validation

PRICES_FILE = Path(__file__).with_name("prices.yaml")

#: A non-negative amount of money or of usage (YAML numbers or strings; never a bool).
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class PriceTableInvalid(ValueError):
    """The price table cannot be used: one printable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenPrice(_Strict):
    """A Bedrock model's On-Demand price per million input and output tokens."""

    input: Amount
    output: Amount


class RegionPrices(_Strict):
    """On-Demand unit prices in one region (Linux, PostgreSQL, standard classes).

    Hourly prices are per hour as AWS lists them; ``*_month`` prices per month.
    ``rds_instance_hour`` is the Single-AZ price of a PostgreSQL instance class;
    a Multi-AZ instance costs ``rds_multi_az_factor`` times that, for its storage too.
    ``rds_vcpus``: vCPUs of each class, which RDS Proxy is billed by (at least
    ``rds_proxy_min_vcpus``).
    """

    eks_cluster_hour: Amount
    ec2_instance_hour: dict[str, Amount] = Field(min_length=1)
    ebs_gp3_gb_month: Amount
    rds_instance_hour: dict[str, Amount] = Field(min_length=1)
    rds_vcpus: dict[str, Annotated[int, Field(gt=0)]] = Field(min_length=1)
    rds_multi_az_factor: Annotated[Decimal, Field(ge=1, allow_inf_nan=False)]
    rds_gp3_gb_month: Amount
    rds_proxy_vcpu_hour: Amount
    rds_proxy_min_vcpus: Annotated[int, Field(ge=0)]
    nat_gateway_hour: Amount
    nat_gateway_gb: Amount
    public_ipv4_hour: Amount
    load_balancer_hour: Amount
    load_balancer_lcu_hour: Amount
    transit_gateway_attachment_hour: Amount
    s3_standard_gb_month: Amount
    kms_key_month: Amount
    secret_month: Amount
    cloudwatch_logs_ingest_gb: Amount
    cloudwatch_logs_storage_gb_month: Amount
    cloudwatch_alarm_month: Amount
    ecr_gb_month: Amount
    bedrock_million_tokens: dict[str, TokenPrice] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_class_has_vcpus(self) -> RegionPrices:
        missing = sorted(set(self.rds_instance_hour) - set(self.rds_vcpus))
        if missing:
            raise ValueError(f"rds_vcpus has no entry for {missing} (RDS Proxy is billed by them)")
        return self


class PlanUsage(_Strict):
    """What one tenant of a plan is assumed to use each month (not readable from a plan).

    ``object_storage_gb``: S3 Standard GB in its buckets; ``log_gb_month``: GB ingested
    into each of its log groups; ``nat_gb_month``: GB through the NAT gateways;
    ``load_balancer_lcu``: capacity units it keeps busy on the ingress load balancer, on
    average; ``image_gb``: GB in each of its image repositories; ``chatbot_budget_used``:
    the share of its daily token budget the chatbot spends on average, of which
    ``output_token_share`` are output tokens.
    """

    object_storage_gb: Amount
    log_gb_month: Amount
    nat_gb_month: Amount
    load_balancer_lcu: Amount
    image_gb: Amount
    chatbot_budget_used: Fraction
    output_token_share: Fraction


class StackUsage(_Strict):
    """What every stack (a cell or a dedicated cluster) is assumed to use, tenants aside.

    ``log_group_gb_month``: GB ingested into each of the stack's own log groups (the EKS
    control plane's, the VPC flow logs'); ``load_balancer_lcu``: the ingress load
    balancer's baseline capacity units.
    """

    log_group_gb_month: Amount
    load_balancer_lcu: Amount


class UsageAssumptions(_Strict):
    """Usage per stack and per plan; every plan a tenant has needs an entry."""

    stack: StackUsage
    plans: dict[str, PlanUsage] = Field(min_length=1)


class PriceTable(_Strict):
    """The whole table: when and where the prices are from, the prices, the assumptions."""

    as_of: datetime.date
    currency: Literal["USD"]
    source: str = Field(min_length=10)
    hours_per_month: Annotated[int, Field(gt=0, le=744)]
    regions: dict[str, RegionPrices] = Field(min_length=1)
    usage: UsageAssumptions

    def region(self, name: str) -> RegionPrices:
        """The prices of one region, or :class:`PriceTableInvalid` naming the regions there are."""
        try:
            return self.regions[name]
        except KeyError:
            raise PriceTableInvalid([f"no prices for region {name!r} (regions priced: "
                                     f"{sorted(self.regions)})"]) from None

    def plan_usage(self, plan: str) -> PlanUsage:
        """The usage assumptions of one plan, or :class:`PriceTableInvalid`."""
        try:
            return self.usage.plans[plan]
        except KeyError:
            raise PriceTableInvalid([f"usage.plans has no assumptions for plan {plan!r} "
                                     f"(plans there: {sorted(self.usage.plans)})"]) from None


def parse_prices(raw: object, file: str = PRICES_FILE.name) -> PriceTable:
    """Validate a parsed price table; :class:`PriceTableInvalid` lists every bad field."""
    if not isinstance(raw, dict):
        raise PriceTableInvalid([f"{file}: expected a mapping (as_of, currency, source, "
                                 "hours_per_month, regions, usage)"])
    try:
        return PriceTable.model_validate(raw)
    except ValidationError as exc:
        raise PriceTableInvalid([str(p) for p in sorted(problems_from_validation(file, exc, PriceTable))]
                                ) from None


def read_prices(path: Path) -> PriceTable:
    """Read and validate a price table file (duplicate keys refused, as in the registry)."""
    try:
        raw = strict_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceTableInvalid([f"{path}: cannot read the price table: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise PriceTableInvalid([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    return parse_prices(raw, path.name)


@cache
def load_prices() -> PriceTable:
    """The price table shipped with the platform."""
    return read_prices(PRICES_FILE)
