"""``python -m tenantctl``."""

from tenantctl.cli import entry

entry()
