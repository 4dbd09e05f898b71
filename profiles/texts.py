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
from django.utils.translation import pgettext_lazy


def other_languages(default_language: str) -> list[tuple[str, str | Promise]]:
    """(code, name) of the languages an organisation may translate its texts into."""
    return [(code, name) for code, name in settings.LANGUAGES if code != default_language]


# A language's name inside a label, "Title (French)": French writes it in lower case there
# ("Titre (français)"), unlike the language menu's "Français".
_IN_LABEL = {
    "en": pgettext_lazy("language name inside a label", "English"),
    "fr": pgettext_lazy("language name inside a label", "French"),
}


def in_language(text: str | Promise, code: str) -> str:
    """A form label naming the language its text is typed in: "Title (French)"."""
    name: str | Promise = _IN_LABEL.get(code) or dict(settings.LANGUAGES).get(code) or code
    return translation.gettext("%(text)s (%(language)s)") % {"text": text, "language": name}


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
