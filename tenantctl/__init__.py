"""tenantctl: validate, plan, check and operate the tenant platform."""
