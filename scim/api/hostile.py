"""Guards against request bodies that are valid JSON but poison further down:
nesting deep enough to blow Python's recursion limit, strings the database
cannot store (lone UTF-16 surrogates are not UTF-8; PostgreSQL refuses NUL in
text), and keys/strings far beyond anything a SCIM attribute holds. Each becomes
a 400 SCIM error that names the problem, before any parsing or writing."""
from __future__ import annotations

import json
from typing import Any

from . import constants as c
from .errors import BadRequest, InvalidSyntax

MAX_DEPTH = 32  # a SCIM User with an extension and a PATCH around it needs < 10
NUL = "\x00"


class HostileValue(BadRequest):
    scim_type = c.SCIM_TYPE_INVALID_VALUE


def _bad_string(value: str) -> str | None:
    if NUL in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def check_document(doc: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk the parsed body iteratively (no recursion to exhaust) and refuse the
    whole request at the first value the database or our parsers cannot take."""
    stack: list[tuple[Any, int, str]] = [(doc, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > max_depth:
            raise HostileValue(f"The body is nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _bad_string(key)
                if problem:
                    raise HostileValue(f"An attribute name {problem}")
                stack.append((item, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, where) for item in value)
        elif isinstance(value, str):
            problem = _bad_string(value)
            if problem:
                raise HostileValue(f'The value of "{where or "body"}"'[:200] + f" {problem}")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise HostileValue(f'The value of "{where or "body"}" is not a finite number'[:300])


def _refuse_constant(name: str) -> Any:
    raise InvalidSyntax(f"{name} is not valid JSON")


def loads(body: bytes) -> Any:
    """json.loads with the failures a client can cause turned into SCIM 400s:
    bad UTF-8, bad JSON, NaN/Infinity (Python accepts them, JSON does not), and
    nesting deep enough to raise RecursionError in the decoder."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InvalidSyntax(f"The body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text or "{}", parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidSyntax(f"Could not decode the JSON body: {exc}") from exc
    except RecursionError as exc:
        raise HostileValue(f"The body is nested deeper than {MAX_DEPTH} levels") from exc


def load_document(body: bytes) -> dict[str, Any]:
    """The body as a checked JSON object (what every SCIM write and .search takes)."""
    doc = loads(body)
    if not isinstance(doc, dict):
        raise InvalidSyntax("The body must be a JSON object")
    check_document(doc)
    return doc


def check_query_value(name: str, value: str) -> None:
    """Query parameters (filter, sortBy, attributes) reach SQL too: refuse NUL."""
    problem = _bad_string(value)
    if problem:
        raise HostileValue(f'The query parameter "{name}" {problem}')


def check_query(params) -> None:
    """Every query parameter (filter, sortBy, attributes, ...) may reach SQL."""
    for name, values in params.lists():
        for value in values:
            check_query_value(name, value)
