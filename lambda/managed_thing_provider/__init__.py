"""Custom resource provider for AWS IoT Managed Integrations managed things.

The Lambda entry point is ``managed_thing_provider.index.handler``. The other
modules are pure functions over the botocore service model, shared with the
``cdk_managed_things`` construct library (synth-time validation) and the local
engine.
"""
