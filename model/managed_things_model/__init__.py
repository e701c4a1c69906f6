"""What the construct library and the provider must agree on, declared once.

- ``contract``: the custom resource's type and the property names that are ours, not the API's.
- ``service_model``: the AWS IoT Managed Integrations model (bundled beside this package in the
  Lambda asset, else the installed botocore's): input shapes, replacement and sensitive members.
- ``validation``: request values checked against the model's shapes.
- ``cfn_encoding``: request values carried through a CloudFormation template and back.

It imports only botocore and the standard library, so it runs unchanged at synth (inside the
construct) and in Lambda (vendored into the provider's asset beside ``managed_thing_provider``).
"""
