"""An AWS IoT Managed Integrations emulator for the managed-thing operations, driven by the botocore model."""
