"""The environment variable that carries the agent's config as TOML text, for
containers without a config file: `tracehound ecs instrument --config` sets it;
`tracehound run` without --config reads it. Its own module: the ECS rewrite (and
the CloudFormation macro's Lambda) import it without the config loader."""

CONFIG_ENV = "TRACEHOUND_CONFIG_TOML"
