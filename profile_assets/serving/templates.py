"""Email templates: Jinja2 in a sandbox, from the packaged folder and PROFILE_ASSETS_TEMPLATES.

A template `welcome` is two files, `welcome.html.j2` and `welcome.txt.j2`; the folder in
PROFILE_ASSETS_TEMPLATES (when set) is searched first, so a team can override or add templates
without touching the package. Rendering gets one variable, `profile` (the served record).

Safety, since template authors are not trusted like code:
- ImmutableSandboxedEnvironment: no access to `_`-prefixed or internal attributes, no
  mutation of the record; unsafe access renders as nothing (`_SafeUndefined`);
- names are plain identifiers (`[a-z0-9_-]`), so `../`, absolute paths and encoded slashes
  never reach the loader: they are unknown templates (404 over HTTP);
- everything but text variants (`.txt.j2`) is autoescaped, partials included;
- a missing field renders as nothing (or the template's `default`), never an error.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

PACKAGED = Path(__file__).with_name("templates")
TEMPLATES_ENV = "PROFILE_ASSETS_TEMPLATES"
FORMATS = {"html": "html.j2", "text": "txt.j2"}
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "text": "text/plain; charset=utf-8"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class UnknownTemplate(LookupError):
    """No template of that name and format (or the name is not a plain identifier)."""


class RenderError(RuntimeError):
    """The template itself is broken or tried something the sandbox forbids."""


class _SafeUndefined(ChainableUndefined):
    """Missing fields and forbidden attributes chain to nothing instead of raising."""

    __slots__ = ()


@lru_cache(maxsize=8)
def _environment(extra: str) -> ImmutableSandboxedEnvironment:
    folders = [Path(extra)] if extra else []
    loader = ChoiceLoader([FileSystemLoader(str(p)) for p in [*folders, PACKAGED]])
    return ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),  # escape unless text
        undefined=_SafeUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def environment() -> ImmutableSandboxedEnvironment:
    return _environment(os.environ.get(TEMPLATES_ENV, ""))


def template_names() -> list[str]:
    """Every template that has both an html and a text variant."""
    files = set(environment().list_templates())
    return sorted(
        name[: -len(".html.j2")]
        for name in files
        if name.endswith(".html.j2") and _NAME.fullmatch(name[: -len(".html.j2")])
        and name.replace(".html.j2", ".txt.j2") in files
    )  # fmt: skip


def render(name: str, profile: dict, fmt: str = "html") -> str:
    """The email `name` rendered for `profile` in `fmt` ("html" or "text")."""
    if fmt not in FORMATS or not _NAME.fullmatch(name):
        raise UnknownTemplate(name)
    try:
        template = environment().get_template(f"{name}.{FORMATS[fmt]}")
    except TemplateNotFound as error:
        raise UnknownTemplate(name) from error
    try:
        return template.render(profile=profile)
    except (SecurityError, TemplateError, TypeError, ValueError, ArithmeticError) as error:
        raise RenderError(f"template {name!r} failed: {type(error).__name__}") from error
