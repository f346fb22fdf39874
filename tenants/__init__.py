"""The tenant registry: who the tenants are, which plan and tier they bought, where they run."""
