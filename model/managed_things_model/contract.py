"""The names the construct writes into templates and the provider reads back.

Like the provider framework's ``consts.ts`` in aws-cdk: whatever both sides of the
custom resource must spell the same way lives here, and only here.
"""

from __future__ import annotations

RESOURCE_TYPE = "Custom::ManagedThing"
"""The CloudFormation type of every managed thing the construct declares."""

SECRET_ARN_PROPERTY = "AuthenticationMaterialSecretArn"
"""The one property that is ours, not the API's: the ARN of a Secrets Manager secret whose value
is the ``AuthenticationMaterial``, read by the provider at deploy time."""

MATERIAL_MEMBER = "AuthenticationMaterial"
"""The API member that ``SECRET_ARN_PROPERTY`` stands in for."""

CLOUDFORMATION_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
"""Properties CloudFormation and CDK add to every custom resource: not members of the thing."""

PROVIDER_PACKAGE = "managed_thing_provider"
"""The provider's import package: the directory the construct bundles as the Lambda code."""

HANDLER = f"{PROVIDER_PACKAGE}.index.handler"
"""The provider function's Lambda handler."""

SECRET_NAME_MEMBER = "AuthenticationMaterialSecretName"
"""An inventory row's stand-in for ``AuthenticationMaterial``: the NAME of a Secrets Manager secret holding it
(a fleet's template carries it in ``SECRET_ARN_PROPERTY``; Secrets Manager takes a name or an ARN as SecretId)."""

SECRET_NAME_PATTERN = r"[A-Za-z0-9/_+=.@-]{1,512}"
"""A Secrets Manager secret name (its characters and length): what ``SECRET_ARN_PROPERTY`` may hold besides an ARN,
and what a fleet's ``secret_name_prefix`` is made of."""

THINGS_MANIFEST_SUFFIX = ".things.json"
"""The end of the name of a fleet's things manifest in the cloud assembly (``<stack>.<fleet path>.things.json``),
which the local engine reads (version 2): ``fleet``, ``stack``, ``stackName``, ``keyMember``, and ``things`` mapping
each key to its ``shard``, its shard stack (``stack``: artifact id, ``stackName``), its ``logicalId`` there and its
``label`` (the key, masked when the key's member is sensitive)."""

RESERVED_TAG_PREFIX = "cdk-managed-things:"
"""Tag keys the provider sets on things itself (e.g. while a replacement is pending); a template may not set them."""

APP_ERROR_FILE_VARIABLE = "CDK_MANAGED_THINGS_APP_ERROR_FILE"
"""Set by ``managed-things`` for the CDK app it synthesizes: the file where the construct library writes the message
of a ``ConfigurationError`` the app did not catch, instead of Python printing a traceback; the CLI shows the message."""

RESOURCE_TAG = f"{RESERVED_TAG_PREFIX}resource"
"""The tag the provider puts on every thing it creates: a digest of the stack's id and the resource's logical id
(``managed_thing_provider.lifecycle.resource_marker``). A Delete whose PhysicalResourceId names no thing (its Create
was cancelled, or ran after it) finds by it what that Create made. A template's things therefore have one tag fewer
than the API's limit."""
