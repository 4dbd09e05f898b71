"""The outbox's fast path for plain recipient addresses gives what Django's own would."""

from __future__ import annotations

from django.core.mail.message import sanitize_address
from hypothesis import given, settings
from hypothesis import strategies as st

from outbox.mail import recipient

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
characters = st.text(ATEXT + ".@\"\\ ()<>,;:[]éü\r\n\t", min_size=1, max_size=30)
plain = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.lists(st.text(ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).map(".".join),
    st.lists(st.text("abcXYZ019-", min_size=1, max_size=8), min_size=1, max_size=3).map(
        ".".join
    ),
)


def outcome(function, address: str) -> str:
    try:
        return function(address, "utf-8")
    except Exception as error:  # Django's parser raises more than ValueError on odd input
        return f"refused: {type(error).__name__}"


@settings(max_examples=400, deadline=None)
@given(st.one_of(plain, characters, st.emails()))
def test_the_fast_path_agrees_with_django(address):
    assert outcome(recipient, address) == outcome(sanitize_address, address)


def test_addresses_that_need_djangos_parser_still_get_it():
    assert recipient("a@bücher.de", "utf-8") == "a@xn--bcher-kva.de"
    assert recipient('"q"@x.org', "utf-8") == "q@x.org"
    assert recipient("Ann <a@x.org>", "utf-8") == "Ann <a@x.org>"
