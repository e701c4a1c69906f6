"""The local engine: an AWS IoT Managed Integrations emulator and a local deploy of CDK apps.

``managed-things emulator`` serves the managed-thing operations of the service on
loopback; ``managed-things deploy`` / ``destroy`` run the synthesized templates'
``Custom::ManagedThing`` resources through the very provider code Lambda runs,
against that emulator. Production deploys stay on AWS CloudFormation.
"""
