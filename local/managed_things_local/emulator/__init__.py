"""An AWS IoT Managed Integrations emulator for the managed-thing operations, driven by the botocore model.

Serves CreateManagedThing, GetManagedThing, UpdateManagedThing, DeleteManagedThing,
ListManagedThings, TagResource, UntagResource and ListTagsForResource over REST-JSON,
so boto3 (``endpoint_url=`` or ``AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS``) and the
AWS CLI (``--endpoint-url``) work unchanged. Start it with ``managed-things emulator``
or ``server.EmulatorServer``.

Modules: ``urls`` routes by each operation's ``http`` trait; ``serialization`` reads
requests and writes responses through the operation's shapes; ``responses`` ties
HTTP to ``models`` (the backend, ClientToken idempotency); ``validation`` checks each
request against the model on its own, never with the provider's validator, which the
emulator exists to check; ``store`` keeps things in SQLite; ``faults`` injects latency,
throttling and errors; ``exceptions`` are the model's error shapes.

Where the emulator decides what the model leaves open:

* Delete is immediate: no DELETE_IN_PROGRESS; Get then answers ResourceNotFoundException.
* A thing belongs to the region of the request's SigV4 credential scope (without one: eu-west-1,
  the local engine's default region).
* A ClientToken lives as long as its thing; same token and same members replay the first
  answer, other members answer ConflictException.
* ListManagedThings pages in creation order, 100 things unless MaxResults says otherwise;
  a NextToken is valid only with the filters it was issued for.
* An invalid request answers the first of ValidationException or InvalidRequestException
  that the operation's model lists (the tagging operations list only the latter).
* Unknown JSON members are ignored and ``null`` means absent, as AWS services do.
* Operations of the model it does not serve answer 501 NotImplementedException.
"""
