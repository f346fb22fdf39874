"""Reusable Pulumi ComponentResources composed per tenant and per cell."""
