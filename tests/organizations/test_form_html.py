"""The settings page's forms written in Python (organizations.form_html): the HTML of
templates/includes/form.html and Django's widget templates, in every state of a field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django import forms
from django.forms.renderers import TemplatesSetting
from django.template.loader import render_to_string
from django.utils import translation

from organizations.form_html import PythonWidgets, form_html
from organizations.forms import AddMemberForm, OrganizationForm
from organizations.models import Organization


def _both(make: Callable[..., forms.BaseForm]) -> tuple[str, str]:
    """The form as this module writes it, and as the templates write it."""
    written = []
    for renderer in (PythonWidgets(), TemplatesSetting()):
        form = make(renderer=renderer)
        if form.is_bound and form.is_valid() is False:
            form.add_error(None, "Something <wrong> & more")
        written.append(
            form_html(form)
            if isinstance(renderer, PythonWidgets)
            else render_to_string("includes/form.html", {"form": form})
        )
    return written[0], written[1]


class _Every(forms.Form):
    """A widget of each kind the module writes, and one it leaves to its template."""

    text = forms.CharField(label="A <b>label</b>", help_text="Help & more", max_length=5)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    number = forms.IntegerField(required=False, initial=1234567)
    checked = forms.BooleanField(required=False, initial=True)
    grouped = forms.ChoiceField(
        choices=[("", "—"), ("Fruit", [("a", "Apple & <pear>"), ("b", "Banana")]), ("c", "C")]
    )
    area = forms.CharField(widget=forms.Textarea, required=False)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_each_widget_reads_as_its_template_wrote_it(language):
    posted = {"text": "too <long>", "hidden": "h\"'", "number": "x", "grouped": "b"}
    with translation.override(language):
        ours, theirs = _both(lambda renderer: _Every(renderer=renderer))
        assert ours == theirs and 'name="area"' in ours and "<optgroup" in ours
        ours, theirs = _both(lambda renderer: _Every(posted, renderer=renderer))
        assert ours == theirs and "Something &lt;wrong&gt;" in ours


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_settings_forms_read_as_their_templates_wrote_them(language):
    organization = Organization(name="A & B", slug="ab", time_zone="Asia/Tokyo")
    invalid = {"name": "", "time_zone": "Mars/Olympus", "contact_email": "nope"}
    with translation.override(language):
        for make in (
            lambda renderer: OrganizationForm(instance=organization, renderer=renderer),
            lambda renderer: OrganizationForm(invalid, instance=organization, renderer=renderer),
            lambda renderer: AddMemberForm(renderer=renderer),
            lambda renderer: AddMemberForm({"email": "x", "role": "owner"}, renderer=renderer),
        ):
            ours, theirs = _both(make)
            assert ours == theirs
    assert isinstance(OrganizationForm().renderer, PythonWidgets)
    assert isinstance(AddMemberForm().renderer, PythonWidgets)
