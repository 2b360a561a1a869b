"""Links a person can open, from the administrator's templates (the chart's `links.*`): the
runner's log in the cluster's log viewer, the outputs in a storage console. Rendered into
status.logUrl and status.outputsUrl; they carry no signature (a presigned link is asked for by
whoever holds storage credentials: `gavel fetch --url`), so they may sit in status for anyone who
can read the Evaluation.

Templates name fields in braces, nothing else: `{namespace}`, `{name}`, `{uid}`, `{pod}` (the
runner pod, known once it runs), `{job}`, `{bucket}`, `{prefix}` (the results prefix). Each value
is URL-quoted (a prefix keeps its slashes). Pure: unit-tested as data."""

from __future__ import annotations

import string
from urllib.parse import quote

FIELDS = ("namespace", "name", "uid", "pod", "job", "bucket", "prefix")
MAX_LENGTH = 2048


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def check_template(template: str) -> str:
    """The template, or ValueError naming what is wrong with it (a setting, checked at start)."""
    if not template:
        return template
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"a link template must start with http:// or https://: {template!r}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ValueError(f"link template {template!r}: {err}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            raise ValueError(f"link template {template!r}: {{{name}}} is not one of "
                             f"{', '.join('{' + f + '}' for f in FIELDS)}")
    return template


def needs_pod(template: str) -> bool:
    return "pod" in fields_of(template)


def render(template: str, **values: str) -> str | None:
    """The link, or None without a template (or without a value it names, such as the pod's name
    before there is a pod)."""
    if not template:
        return None
    wanted = fields_of(template)
    if any(not values.get(f) for f in wanted):
        return None
    quoted = {f: quote(str(values[f]), safe="/" if f == "prefix" else "") for f in wanted}
    link = template.format(**quoted)
    return link if len(link) <= MAX_LENGTH else None
