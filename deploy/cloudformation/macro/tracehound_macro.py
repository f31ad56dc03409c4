"""CloudFormation macro (Transform) TracehoundInstrument: the rewrite of
`tracehound ecs instrument`, applied to every AWS::ECS::TaskDefinition.

    Transform:
      - Name: TracehoundInstrument
        Parameters:
          Image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/tracehound:0.2.0
          Backend: auto            # or seccomp_notify (no SYS_PTRACE) or ptrace
          Containers: web,api      # optional; default: the essential containers
          ConfigFrom: arn:aws:ssm:...:parameter/tracehound/config   # optional
          ReadImages: "true"       # "false": every container states entryPoint and command

A container that leaves its entrypoint or command to its image gets them from the
image's registry (tracehound.agent.ecs.registry; ECR through the function's role).

The package (build.sh) carries tracehound.agent.ecs from this repository, the
same code the CLI runs.
"""

from __future__ import annotations

from typing import Any

from tracehound.agent.ecs import CFN, InstrumentError, Options, instrument
from tracehound.agent.ecs.registry import cached, image_defaults

TASK_DEFINITION = "AWS::ECS::TaskDefinition"


def transform(template: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The template with every task definition instrumented (raises InstrumentError)."""
    image = params.get("Image")
    if not image:
        raise InstrumentError("the Image parameter (the tracehound image) is required")
    opts = Options(
        image=str(image),
        containers=tuple(c.strip() for c in str(params.get("Containers", "")).split(",") if c),
        backend=str(params.get("Backend", "auto")),
        config_from=params.get("ConfigFrom") or None,
        resolve=(
            None
            if str(params.get("ReadImages", "true")).lower() == "false"
            else cached(image_defaults)
        ),
    )
    for name, res in (template.get("Resources") or {}).items():
        if res.get("Type") != TASK_DEFINITION:
            continue
        try:
            res["Properties"] = instrument(res.get("Properties") or {}, opts, CFN).taskdef
        except InstrumentError as exc:
            raise InstrumentError(f"{name}: {exc}") from None
    return template


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"requestId": event.get("requestId")}
    try:
        out["fragment"] = transform(event["fragment"], event.get("params") or {})
        out["status"] = "success"
    except (InstrumentError, KeyError, TypeError) as exc:
        out["status"] = "failure"
        out["errorMessage"] = (
            str(exc).replace("--entrypoint", "EntryPoint").replace("--command", "Command")
        )
        out["fragment"] = event.get("fragment")
    return out
