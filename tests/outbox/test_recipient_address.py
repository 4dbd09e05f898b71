"""The outbox's fast path for plain recipient addresses gives what Django's own would."""

from __future__ import annotations

from django.core.mail.message import sanitize_address
from hypothesis import given, settings
from hypothesis import strategies as st

from outbox.mail import recipient

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
characters = st.text(ATEXT + '.@"\\ ()<>,;:[]éü\r\n\t', min_size=1, max_size=30)
plain = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.lists(st.text(ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).map(".".join),
    st.lists(st.text("abcXYZ019-", min_size=1, max_size=8), min_size=1, max_size=3).map(".".join),
)

# What the parser treats specially: encoded words before the @, labels too long for IDNA.
encoded_words = st.builds(
    lambda charset, encoding, text, domain: f"=?{charset}?{encoding}?{text}?=@{domain}",
    st.sampled_from(["utf-8", "a", "iso-8859-1"]),
    st.sampled_from(["q", "b", "Q"]),
    st.text("abcXYZ019=_", min_size=0, max_size=8),
    st.sampled_from(["x.org", "example.org"]),
)
long_labels = st.builds(
    lambda local, size: f"{local}@{'a' * size}.org",
    st.text(ATEXT, min_size=1, max_size=8),
    st.integers(min_value=60, max_value=70),
)


def outcome(function, address: str) -> str:
    try:
        return function(address, "utf-8")
    except Exception as error:  # Django's parser raises more than ValueError on odd input
        return f"refused: {type(error).__name__}"


@settings(max_examples=400, deadline=None)
@given(st.one_of(plain, characters, encoded_words, long_labels, st.emails()))
def test_the_fast_path_agrees_with_django(address):
    assert outcome(recipient, address) == outcome(sanitize_address, address)


def test_addresses_that_need_djangos_parser_still_get_it():
    assert recipient("a@bücher.de", "utf-8") == "a@xn--bcher-kva.de"
    assert recipient('"q"@x.org', "utf-8") == "q@x.org"
    assert recipient("Ann <a@x.org>", "utf-8") == "Ann <a@x.org>"
    assert recipient("=?utf-8?q?bob?=@x.org", "utf-8") == "bob@x.org"
    assert outcome(recipient, f"a@{'b' * 64}.org") == outcome(sanitize_address, f"a@{'b' * 64}.org")
    assert recipient(f"a@{'b' * 63}.org", "utf-8") == f"a@{'b' * 63}.org"
