"""The JSON API, version 1 (`/api/v1`, contract: shared/api/trace-v1.md).

routes (the blueprint), pipeline (body -> Spec -> trace -> JSON, shared with the pages and the command
line), schemas and checks (the request models and their cross-field checks), responses and
training_schemas (the other models), limits, bodies (reading a JSON body safely), problems
(application/problem+json errors), openapi (the document).
"""
