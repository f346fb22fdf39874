"""Entry point the Pulumi CLI runs for ``--policy-pack policy/`` (cwd is this directory).

The only place a ``PolicyPack`` is constructed: its constructor starts the gRPC server the
engine talks to and never returns.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.ADVISORY)
