"""One voice on every page: the text a person reads uses straight quotes (' and ")
only, in templates and in the messages the code writes; every Cancel is the
same outlined secondary button; a count is never followed by a plural noun
that ignores it ("1 grants"); a row of links has no "·" or "|" separators; the
invitation e-mail greets by the first name the admin typed."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from django.core import mail

from organizations.signin import invitations
from tests import builders

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in (".html", ".txt"))
APPS = ("organizations", "scim", "mappings", "config")
CURLY = "“”‘’"  # the other kind: Orgdesk writes straight quotes

COMMENT = re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}|\{#.*?#\}", re.S)
TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
HTML_TAG = re.compile(r"<[^>]*>", re.S)
# Nouns Orgdesk counts; a count before one of them must go through |pluralize.
COUNTED = ("days", "hours", "minutes", "seconds", "members", "grants", "mappings", "invitations", "calls",
           "groups", "stacks", "roles", "requests", "entries", "domains", "codes", "sign-ins", "people")
COUNT_THEN_PLURAL = re.compile(r"\{\{[^}]*\}\}\s+(?:" + "|".join(re.escape(n) for n in COUNTED) + r")\b")


def visible_text(path: Path) -> str:
    """What a reader sees of a template: no comments, template code or tags (so no attribute values)."""
    text = COMMENT.sub(" ", path.read_text())
    text = TEMPLATE_CODE.sub(" ", text)
    return HTML_TAG.sub(" ", text) if path.suffix == ".html" else text


def test_templates_show_straight_quotes_only():
    assert TEMPLATES
    found = [f"{p.relative_to(ROOT)}: {line.strip()[:100]}" for p in TEMPLATES
             for line in visible_text(p).splitlines() if any(c in line for c in CURLY)]
    assert not found, "curly quotes in visible text (write ' and \"):\n" + "\n".join(found)


def test_the_visible_text_check_catches_curly_quotes_and_ignores_markup(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<p title="“x”">{% comment %}“ok”{% endcomment %}Use “Sign in”</p>')
    assert visible_text(page).strip() == "Use “Sign in”"


def test_messages_in_the_code_use_straight_quotes():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            source = path.read_text()
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.STRING and any(c in token.string for c in CURLY):
                    found.append(f"{path.relative_to(ROOT)}:{token.start[0]}")
    assert not found, "curly quotes in string literals:\n" + "\n".join(found)


def test_every_cancel_is_the_outlined_secondary_button():
    cancel = re.compile(r"<a\b[^>]*>\s*(?:Cancel|\{\{ cancel_label\|default:\"Cancel\" \}\})\s*</a>", re.S)
    links = [(p, m.group(0)) for p in TEMPLATES for m in cancel.finditer(p.read_text())]
    assert len(links) >= 5
    plain = [f"{p.relative_to(ROOT)}: {tag}" for p, tag in links if "od-cancel" not in tag.split(">")[0]]
    assert not plain, "\n".join(plain)


def test_counts_agree_with_their_nouns():
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in TEMPLATES
             for m in COUNT_THEN_PLURAL.finditer(COMMENT.sub(" ", p.read_text()))]
    assert not found, "use |pluralize after a count:\n" + "\n".join(found)


def test_rows_of_links_have_no_dot_separators():
    found = [str(p.relative_to(ROOT)) for p in TEMPLATES if re.search(r"</a>\s*[·|]", p.read_text())]
    assert not found, found


@pytest.mark.django_db
@pytest.mark.parametrize("first_name, greeting", [("Ada", "Hello Ada,"), ("", "Hello,")])
def test_the_invitation_greets_by_the_first_name_typed(first_name, greeting, django_capture_on_commit_callbacks):
    org = builders.make_org("Acme")
    actor = builders.owner_of(org).user
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_member(org, "ada@acme.example", actor=actor, first_name=first_name, last_name="Lovelace")
    sent = [m for m in mail.outbox if m.to == ["ada@acme.example"]]
    assert len(sent) == 1
    assert sent[0].body.splitlines()[0] == greeting
