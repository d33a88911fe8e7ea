"""A small parser for SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2).

Why our own and not scim2-filter-parser: its grammar (0.7.0) gives `and` and
`or` the same precedence, so `a or b and c` parses as `(a or b) and c`, and sly
rebuilds grammar rules per class, so it cannot be fixed by subclassing. A
tokenizer plus a recursive-descent parser is short and pins the RFC's
precedence: `not` > `and` > `or`.

The parser only knows the grammar; which attributes exist and what they mean is
decided by scim.api.filters. Every failure is a ScimFilterError (never a
RecursionError or a JSON error): the caller answers 400 invalidFilter.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Union

MAX_FILTER_LENGTH = 4000
MAX_DEPTH = 50

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
PRESENT_OP = "pr"
AND, OR, NOT = "and", "or", "not"

# An unquoted id such as Entra ID's object ids (letter/digit groups joined by
# dashes, as a GUID is): the one bare word accepted as a string.
_BARE_ID_RE = re.compile(r"[0-9A-Za-z]+(?:-[0-9A-Za-z]+)+\Z")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<punct>[()\[\]])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<word>[^\s()\[\]"]+)
    """,
    re.VERBOSE | re.DOTALL,
)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ScimFilterError(ValueError):
    """A filter we cannot honour; the message is the `detail` of a 400 invalidFilter."""


@dataclass(frozen=True)
class Token:
    kind: str  # "punct", "string", "word" or "end"
    text: str
    pos: int
    value: Any = None  # decoded value of a "string" token


@dataclass(frozen=True)
class Compare:
    """`path op value`; `path` is lower-cased, `value` a JSON value (str, bool, None, int, float)."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: str


@dataclass(frozen=True)
class Logical:
    op: str  # "and" / "or"
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class ValuePath:
    """`attr[filter]` or `attr[filter].sub op value`: `inner` (and `tail`, whose path is
    the sub-attribute) apply to one and the same element of the multi-valued `attr`."""

    attr: str
    inner: "Node"
    tail: Union[Compare, Present, None] = None


Node = Union[Compare, Present, Logical, Not, ValuePath]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # only an unterminated string gets here
            raise ScimFilterError(f"Unterminated string starting at position {pos + 1}.")
        kind = match.lastgroup
        chunk = match.group()
        if kind == "string":
            try:
                value = json.loads(chunk, strict=False)
            except ValueError as exc:
                raise ScimFilterError(f"Invalid string {chunk[:40]!r} at position {pos + 1}: {exc.msg}.") from None
            if "\x00" in value or not _encodable(value):  # "\u0000" or a lone "\ud800" escape
                raise ScimFilterError(f"The string at position {pos + 1} holds a character no attribute can contain.")
            tokens.append(Token("string", chunk, pos, value))
        elif kind != "space":
            tokens.append(Token(kind, chunk, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse(text: str) -> Node:
    """Parse a filter into a tree of Compare / Present / Logical / Not / ValuePath."""
    if not isinstance(text, str) or not text.strip():
        raise ScimFilterError("The filter is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise ScimFilterError(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    return _Parser(tokenize(text)).parse()


def _describe(token: Token) -> str:
    return "the end of the filter" if token.kind == "end" else f"{token.text[:40]!r} at position {token.pos + 1}"


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # -- helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def is_keyword(self, token: Token, *words: str) -> bool:
        return token.kind == "word" and token.text.lower() in words

    def expect_punct(self, char: str, context: str) -> Token:
        token = self.next()
        if token.kind != "punct" or token.text != char:
            raise ScimFilterError(f"Expected {char!r} {context}, found {_describe(token)}.")
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ScimFilterError(f"The filter nests deeper than {MAX_DEPTH} levels.")

    # -- grammar
    def parse(self) -> Node:
        node = self.or_expr(in_brackets=False)
        token = self.peek()
        if token.kind != "end":
            raise ScimFilterError(f"Unexpected {_describe(token)}; expected 'and', 'or' or the end of the filter.")
        return node

    def or_expr(self, in_brackets: bool) -> Node:
        node = self.and_expr(in_brackets)
        while self.is_keyword(self.peek(), OR):
            self.next()
            node = Logical(OR, node, self.and_expr(in_brackets))
        return node

    def and_expr(self, in_brackets: bool) -> Node:
        node = self.unary(in_brackets)
        while self.is_keyword(self.peek(), AND):
            self.next()
            node = Logical(AND, node, self.unary(in_brackets))
        return node

    def unary(self, in_brackets: bool) -> Node:
        token = self.peek()
        if self.is_keyword(token, NOT):
            # RFC 7644 writes `not (filter)`; a bare `not attrExp` is accepted too, binding tightest.
            self.next()
            self.enter()
            node: Node = Not(self.unary(in_brackets))
            self.depth -= 1
            return node
        if token.kind == "punct" and token.text == "(":
            self.next()
            self.enter()
            node = self.or_expr(in_brackets)
            self.expect_punct(")", f"to close the '(' at position {token.pos + 1}")
            self.depth -= 1
            return node
        return self.attr_expr(in_brackets)

    def attr_path(self) -> Token:
        token = self.next()
        if token.kind != "word" or self.is_keyword(token, AND, OR, NOT, PRESENT_OP, *COMPARE_OPS):
            raise ScimFilterError(f"Expected an attribute name, found {_describe(token)}.")
        return token

    def attr_expr(self, in_brackets: bool) -> Node:
        attr = self.attr_path()
        path = attr.text.lower()
        following = self.peek()
        if following.kind == "punct" and following.text == "[":
            if in_brackets:
                raise ScimFilterError(f"Value filters cannot be nested (position {following.pos + 1}).")
            self.next()
            self.enter()
            inner = self.or_expr(in_brackets=True)
            self.expect_punct("]", f"to close the '[' at position {following.pos + 1}")
            self.depth -= 1
            tail = None
            sub = self.peek()
            if sub.kind == "word" and sub.text.startswith("."):
                # `emails[type eq "work"].value eq "x"` (as Okta and Entra send it)
                self.next()
                tail = self.operation(sub.text[1:].lower(), sub)
            return ValuePath(path, inner, tail)
        return self.operation(path, attr)

    def operation(self, path: str, attr: Token) -> Union[Compare, Present]:
        if not path or not re.fullmatch(r"[a-z0-9_:.$-]+", path) or path.endswith("."):
            raise ScimFilterError(f"Invalid attribute name {_describe(attr)}.")
        op_token = self.next()
        op = op_token.text.lower() if op_token.kind == "word" else ""
        if op == PRESENT_OP:
            return Present(path)
        if op not in COMPARE_OPS:
            raise ScimFilterError(
                f"Expected an operator (eq ne co sw ew pr gt ge lt le) after {attr.text[:40]!r}, "
                f"found {_describe(op_token)}."
            )
        return Compare(path, op, self.value(op))

    def value(self, op: str) -> Any:
        token = self.next()
        if token.kind == "string":
            return token.value
        if token.kind != "word":
            raise ScimFilterError(f"Expected a value after {op!r}, found {_describe(token)}.")
        text = token.text
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if _NUMBER_RE.match(text):
            return float(text) if any(c in text for c in ".eE") else int(text)
        if _BARE_ID_RE.match(text):
            # Entra ID sometimes sends its object ids unquoted (`externalId eq 0a1b-...`).
            return text
        if text[:1] == "'":
            raise ScimFilterError(
                f"Strings in a filter are in double quotes (RFC 7644 §3.4.2.2); found {_describe(token)}."
            )
        raise ScimFilterError(
            f"Expected a value (a string in double quotes, a number, true, false or null), found {_describe(token)}."
        )
