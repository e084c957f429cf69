"""Schemathesis against GET /api/v1/openapi.json, through the app's WSGI interface.

Requests are generated from the OpenAPI document, valid ones and invalid ones
(wrong types, missing fields, bodies that break the schema). Every answer must
be a status the document lists for that operation, with its content type and
a body that matches its schema; never a 5xx. An invalid request must be
refused with a 4xx.

Not checked: that a schema-valid request is accepted. The schema cannot say
everything the API checks (matrix shapes that fit together, options of one
loss only), so a 422 for such a request is right.

The run is deterministic (Hypothesis' derandomize). `FUZZ_CASES` sets the
total number of cases, shared over the operations: 400 by default, `make fuzz`
runs 10,000.
"""
from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.api.openapi import openapi_document

DOCUMENT = openapi_document()
CASES = int(os.environ.get("FUZZ_CASES", "400"))
POSTS = sum("post" in operations for operations in DOCUMENT["paths"].values())
GETS = sum("get" in operations for operations in DOCUMENT["paths"].values())
# The POST operations take a whole request body: nine cases in ten go to them.
POST_CASES = max(1, CASES * 9 // 10 // POSTS)
GET_CASES = max(1, CASES // 10 // GETS)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# The test client has no gzip decoder: ask for the body as it is.
HEADERS = {"Accept-Encoding": "identity"}


# The document GET /api/v1/openapi.json serves (test_served_document_is_the_one_fuzzed); the
# requests go to a fresh app per test through its WSGI interface.
schema = schemathesis.openapi.from_dict(DOCUMENT)
FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@schema.include(method="POST").parametrize()
@settings(max_examples=POST_CASES, **FUZZ_SETTINGS)
def test_operations_with_a_body(app, case):
    response = case.call_and_validate(app=app, headers=HEADERS, checks=CHECKS)
    assert response.status_code < 500


@schema.include(method="GET").parametrize()
@settings(max_examples=GET_CASES, **FUZZ_SETTINGS)
def test_read_only_endpoints(app, case):
    response = case.call_and_validate(app=app, headers=HEADERS, checks=CHECKS)
    assert response.status_code < 500


def test_served_document_is_the_one_fuzzed(client):
    assert client.get("/api/v1/openapi.json").get_json() == DOCUMENT
