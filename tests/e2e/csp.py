"""Content-Security-Policy violations a real browser reports, for browser tests
that walk pages whose scripts must keep working under the policy."""
from __future__ import annotations


def collect_csp_violations(page) -> list[str]:
    """Chromium logs every blocked script, style, frame or form target to the
    console ("... violates the following Content Security Policy directive ...");
    the returned list fills as the page goes on."""
    found: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"{message.type}: {message.text} ({page.url})")

    page.on("console", on_console)
    return found
