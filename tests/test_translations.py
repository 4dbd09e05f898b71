from __future__ import annotations

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def test_the_french_catalogue_is_complete_and_compiled():
    po = polib.pofile(str(LOCALE / "fr" / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated and not fuzzy
    mo = polib.mofile(str(LOCALE / "fr" / "LC_MESSAGES" / "django.mo"))
    assert {e.msgid for e in po.translated_entries()} <= {e.msgid for e in mo}
