"""Guard an existing ECS task without rebuilding its image.

`tracehound ecs instrument` (cli.py) and the CloudFormation macro
(deploy/cloudformation/macro/) share one rewrite (instrument.py): an init
container copies the self-contained tracehound into a task volume, and each
wrapped container runs its original entrypoint and command under
`tracehound run`.
"""

from tracehound.agent.ecs.instrument import (
    CFN,
    JSON,
    InstrumentError,
    Options,
    Style,
    instrument,
)
from tracehound.agent.ecs.taskdef import registrable

__all__ = ["CFN", "JSON", "InstrumentError", "Options", "Style", "instrument", "registrable"]
