"""Custom resource provider for AWS IoT Managed Integrations managed things.

The Lambda entry point is ``managed_thing_provider.index.handler``. The service
model, validation, CloudFormation encoding and property names it shares with the
construct library come from ``managed_things_model``, vendored beside this package
in the asset; nothing here imports CDK, the construct library or the local engine.
"""
