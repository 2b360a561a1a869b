"""The language definitions shipped with Gavel (languages/*.yaml), as typed models."""

from __future__ import annotations

from importlib import resources

import yaml

from .models import Language, LanguageVersion


def builtin_languages() -> dict[str, Language]:
    """Every language file packaged with Gavel, by name."""
    out: dict[str, Language] = {}
    for entry in resources.files("gavel_contract.language_files").iterdir():
        if entry.name.endswith(".yaml"):
            lang = Language.model_validate(yaml.safe_load(entry.read_text()))
            out[lang.name] = lang
    return out


def supported(languages: dict[str, Language]) -> str:
    """`c (17, 11), cpp (17, 20, 23), …`: what a message names when a language is unknown."""
    return ", ".join(f"{n} ({', '.join(v.version for v in l.versions)})" for n, l in sorted(languages.items()))


class UnknownLanguage(LookupError):
    pass


def resolve(spec: str, languages: dict[str, Language] | None = None) -> tuple[Language, LanguageVersion]:
    """`NAME[:VERSION]` to a language and one of its versions, or UnknownLanguage naming what exists."""
    languages = builtin_languages() if languages is None else languages
    name, _, version = spec.partition(":")
    lang = languages.get(name)
    if lang is None:
        raise UnknownLanguage(f"unknown language {name!r}; supported: {supported(languages)}")
    ver = lang.get(version or None)
    if ver is None:
        raise UnknownLanguage(
            f"unknown version {version!r} of {name}; supported: {', '.join(v.version for v in lang.versions)}"
        )
    return lang, ver
