"""An organisation's own texts — labels, help texts, choices, titles — in the reader's language.

A text's column holds it in the organisation's default language; `translations` holds the
other languages, e.g. {"fr": {"label": "Adresse", "choices": {"Red": "Rouge"}}}. A missing
translation falls back to the column, so a reader never meets an empty label. A choice's
stored value is the column's text and never changes with the language: only its label does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise


def other_languages(default_language: str) -> list[tuple[str, str | Promise]]:
    """(code, name) of the languages an organisation may translate its texts into."""
    return [(code, name) for code, name in settings.LANGUAGES if code != default_language]


def reader_language() -> str:
    return (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]


class Translatable:
    """For models with a `translations` JSON column beside their text columns."""

    translations: dict[str, dict[str, Any]]

    def translated(self, name: str, language: str | None = None) -> str:
        texts = (self.translations or {}).get(language or reader_language(), {})
        return texts.get(name) or getattr(self, name)

    def translation_of(self, language: str, name: str) -> Any:
        return (self.translations or {}).get(language, {}).get(name)

    def set_translation(self, language: str, name: str, text: Any) -> None:
        """Records (or, when empty, removes) the text `name` in `language`."""
        translations = {code: dict(texts) for code, texts in (self.translations or {}).items()}
        texts = translations.setdefault(language, {})
        if text:
            texts[name] = text
        else:
            texts.pop(name, None)
        self.translations = {code: texts for code, texts in translations.items() if texts}
