"""Audit action codes are written once (organizations/audit_actions.py): the
code that records an entry and the sentence that reads it use its constants, so
a misspelt action cannot be imported; the stored strings never change."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from organizations import audit_actions
from organizations.audit_log import KINDS, actions_of_kind, registered_actions

ROOT = Path(__file__).resolve().parents[2]
CODES = {name: value for name, value in vars(audit_actions).items() if name.isupper() and isinstance(value, str)}
# Shaped like an action code: a known area, then dotted lower-case words.
SHAPED = re.compile(r"^(organization|membership|stack|stack_role|stack_access|account|invitation|sso|domain|scim|"
                    r"marketplace|access|group_mapping)(\.[a-z_]+)+$")


def literal_codes_outside_the_list() -> list[str]:
    found = []
    for package in ("organizations", "scim", "mappings"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "organizations" / "audit_actions.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                value = getattr(node, "value", None)
                if isinstance(node, ast.Constant) and isinstance(value, str) and value in CODES.values():
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {value}")
    return found


def test_no_action_code_is_written_as_a_string_outside_the_list():
    assert literal_codes_outside_the_list() == []


def test_each_code_is_listed_once_under_the_name_it_spells():
    assert len(set(CODES.values())) == len(CODES)
    for name, value in CODES.items():
        assert SHAPED.match(value), value
        assert name == value.upper().replace(".", "_"), name


def test_every_listed_action_reads_as_a_sentence_and_falls_under_a_kind():
    assert set(CODES.values()) - registered_actions() == set()
    in_a_kind = {action for kind, _label, _prefixes in KINDS for action in actions_of_kind(kind)}
    # A password change or reset is the account's, in no org's log: no kind filters it.
    assert set(CODES.values()) - in_a_kind == {
        audit_actions.ACCOUNT_PASSWORD_CHANGE, audit_actions.ACCOUNT_PASSWORD_RESET,
        audit_actions.ACCOUNT_PASSWORD_RESET_REQUEST,
    }


def test_the_stored_strings_are_the_ones_written_before():
    assert (audit_actions.MEMBERSHIP_ADD, audit_actions.SCIM_USER_PROVISION, audit_actions.ACCESS_RECOMPUTE,
            audit_actions.MARKETPLACE_TOKEN_REGENERATE) == (
        "membership.add", "scim.user.provision", "access.recompute", "marketplace.token_regenerate")
