"""The REST-ish endpoints under /api/, for CI jobs and scripts, described by OpenAPI at
/api/openapi.json (and browsable at /api/docs).

Authentication: `Authorization: Bearer <token>` (a token per user, made on the dashboard's
token page or with `manage.py api_token USER`), or a signed-in browser session. Every input is
typed and bounded here, so that malformed or hostile input is a 4xx with a JSON body that says
what is wrong, never a 500: services check the meaning, this package checks the shape.

By job: `plumbing` (the API object, authentication, JSON refusals, exception handlers),
`schemas` (what goes in and out, and the refusals each operation can answer), `endpoints`
(the operations).
"""

from builds.api import endpoints  # noqa: F401  (registers the operations on `api`)
from builds.api.endpoints import artifact_response
from builds.api.plumbing import api

__all__ = ["api", "artifact_response"]
