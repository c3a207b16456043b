"""Request body limits per route: the app's ``MAX_CONTENT_LENGTH`` everywhere, a larger one only
on the routes that take files.

Quart starts receiving a body into the request as soon as the request object exists, before any
view runs, and checks it against the limit the request was made with (a ``Content-Length`` over
it is refused at once, a streamed body as it grows past it). So the limit has to be chosen when
the request is made: the app's request class looks the route up in the URL map first, for the
methods that carry bodies to a route with a limit of its own, and every other request keeps the
app-wide limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Quart
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException


def allow_larger_bodies(app: Quart, limits: Mapping[str, int]) -> None:
    """Let each endpoint in ``limits`` (``"blueprint.view"``) take bodies up to its own limit.

    Call after the blueprints are registered; the endpoints must exist.
    """
    missing = set(limits) - set(app.view_functions)
    if missing:
        raise ValueError(f"no such endpoints: {sorted(missing)}")
    url_map = app.url_map
    methods = {
        method
        for rule in url_map.iter_rules()
        if rule.endpoint in limits
        for method in (rule.methods or ())
        if method not in ("GET", "HEAD", "OPTIONS")
    }
    base = app.request_class

    class RouteSizedRequest(base):  # type: ignore[misc, valid-type]
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
            limit = _limit_for(method, path) if method in methods else None
            if limit is not None:
                kwargs["max_content_length"] = limit
            super().__init__(method, scheme, path, *args, **kwargs)
            if limit is not None:
                self.max_content_length = limit  # what the form parser reads

    def _limit_for(method: str, path: str) -> int | None:
        try:
            endpoint, _ = url_map.bind("").match(path, method=method)
        except (HTTPException, RoutingException):
            return None  # no such route: the app's limit, and its 404 or 405
        return limits.get(str(endpoint))

    app.request_class = RouteSizedRequest
