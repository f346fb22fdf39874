"""The tenant-isolation policy pack.

Rules are pure functions over a resource's type and properties (or over the stack's
resources), one per module in ``policy.rules``. ``policy.pack`` adapts them to CrossGuard
policies, ``policy.engine`` evaluates them in-process exactly as the Pulumi engine would,
and ``policy/__main__.py`` is the only place a ``PolicyPack`` is constructed.
"""
