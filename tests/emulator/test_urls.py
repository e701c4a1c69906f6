"""Routing from the model's http traits: every operation reachable at its own requestUri, labels decoded."""

from __future__ import annotations

import re

import pytest
from botocore.model import ServiceModel

from managed_things_local.emulator.urls import compile_route, resolve
from managed_things_model.service_model import service_model

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")


@pytest.mark.parametrize("name", service_model().operation_names)
def test_every_operation_of_the_model_routes_to_itself(name: str) -> None:
    # GIVEN an operation's requestUri with a sample value in every label
    http = service_model().operation_model(name).http
    path, _, query = http["requestUri"].partition("?")
    path = _LABEL.sub("sample1", path)

    # WHEN a request with its method and that path is resolved
    match = resolve(http["method"], path, {key: [value] for key, _, value in [query.partition("=")] if key})

    # THEN it names that operation (no two operations overlap)
    assert match is not None and match.operation.name == name


def test_labels_are_decoded_after_matching() -> None:
    # GIVEN an ARN percent-encoded into the /tags/{ResourceArn} label
    path = "/tags/arn%3Aaws%3Aiotmanagedintegrations%3Aeu-west-1%3A123456789012%3Amanaged-thing%2Fabc"

    # WHEN it is resolved
    match = resolve("GET", path, {})

    # THEN ListTagsForResource gets the ARN decoded
    assert match is not None and match.operation.name == "ListTagsForResource"
    assert match.labels == {"ResourceArn": "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/abc"}


def synthetic(request_uri: str) -> ServiceModel:
    """A one-operation model, for URI features the Managed Integrations model does not use."""
    operation = {"name": "Op", "http": {"method": "GET", "requestUri": request_uri}}
    return ServiceModel({"metadata": {"protocol": "rest-json"}, "operations": {"Op": operation}, "shapes": {}})


def test_a_greedy_label_takes_the_rest_of_the_path() -> None:
    # GIVEN a route with a greedy label
    route = compile_route(synthetic("/files/{Bucket}/{Key+}").operation_model("Op"))

    # WHEN a path with slashes in the key is matched
    labels = route.match("GET", "/files/b1/a/b%20c/d.txt", {})

    # THEN the greedy label holds every remaining segment, decoded
    assert labels == {"Bucket": "b1", "Key": "a/b c/d.txt"}
    assert route.match("GET", "/files/b1", {}) is None


def test_a_literal_query_in_the_request_uri_must_be_present() -> None:
    # GIVEN a route whose requestUri carries a literal query parameter
    route = compile_route(synthetic("/things/{Id}?type=hub").operation_model("Op"))

    # WHEN paths are matched with and without it
    # THEN only the request with the parameter matches
    assert route.match("GET", "/things/1", {"type": ["hub"]}) == {"Id": "1"}
    assert route.match("GET", "/things/1", {}) is None
    assert route.match("GET", "/things/1", {"type": ["other"]}) is None
    assert route.match("PUT", "/things/1", {"type": ["hub"]}) is None
