"""The settings page's forms, rendered in Python.

Each field went through templates/includes/field.html and its widget's templates (an input
through three, a select through one more per option): the two forms were most of the
settings page's own time (docs/PERFORMANCE.md). `form_html` writes what
templates/includes/form.html writes, and `PythonWidgets` writes what Django's templates of the
plain widgets write, from the context Django builds for them; any other widget goes through
its template as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms import BaseForm
from django.forms.renderers import TemplatesSetting
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _text(value: Any) -> str:
    """`{{ value }}` in a template: localised unless a string, escaped unless safe."""
    if not isinstance(value, str):
        value = str(localize(value))
    return str(conditional_escape(value))


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: no localisation, escaped unless safe."""
    if isinstance(value, str):
        return str(conditional_escape(value))
    return str(conditional_escape("%s" % value))  # noqa: UP031 - as the filter formats it


def _attrs(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: Mapping[str, Any]) -> str:
    """django/forms/widgets/input.html, which each of the plain inputs includes."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}'
        f"{_attrs(widget['attrs'])}>"
    )


def _select(widget: Mapping[str, Any]) -> str:
    """django/forms/widgets/select.html, its options through select_option.html."""
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in options:
            if option["template_name"] != "django/forms/widgets/select_option.html":
                raise _Unknown
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _time_zone_select(widget: Mapping[str, Any]) -> str:
    """templates/includes/time_zone_select.html (organizations.forms.TimeZoneSelect)."""
    return (
        f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>'
        f"{_text(widget['options'])}</select>"
    )


class _Unknown(Exception):
    """A widget's context this module does not write: its template does."""


_INPUTS = ("text", "email", "url", "number", "password", "hidden", "checkbox")
WIDGETS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    **{f"django/forms/widgets/{name}.html": _input for name in _INPUTS},
    "django/forms/widgets/select.html": _select,
    "includes/time_zone_select.html": _time_zone_select,
}


class PythonWidgets(TemplatesSetting):
    """The project's renderer (FORM_RENDERER) for the settings page's forms, the plain
    widgets written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = WIDGETS.get(template_name)
        if write is not None:
            try:
                # As the renderer strips what a widget's template writes.
                return write(context["widget"]).strip()
            except _Unknown:
                pass
        return super().render(template_name, context, request)


def _field(field: Any) -> str:
    """templates/includes/field.html."""
    classes = (" has-error" if field.errors else "") + (" required" if field.field.required else "")
    label, for_id = _text(field.label), _text(field.id_for_label)
    if field.widget_type == "checkbox":
        control = f'\n    <label for="{for_id}" class="check">{field} {label}</label>\n  '
    else:
        control = f'\n    <label for="{for_id}">{label}</label>\n    {field}\n  '
    auto_id = _text(field.auto_id)
    help_text = (
        f'<p class="help" id="{auto_id}_helptext">{_text(field.help_text)}</p>'
        if field.help_text
        else ""
    )
    errors = (
        f'<div id="{auto_id}_error" role="alert">'
        + "".join(f'<p class="error">{_text(error)}</p>' for error in field.errors)
        + "</div>"
        if field.errors
        else ""
    )
    return f'<div class="field{classes}">\n  {control}\n  {help_text}\n  {errors}\n</div>\n'


def form_html(form: BaseForm) -> SafeString:
    """templates/includes/form.html: the form's errors, hidden fields and fields."""
    errors = "".join(
        f'<p class="error form-error" role="alert">{_text(error)}</p>'
        for error in form.non_field_errors()
    )
    hidden = "".join(
        str(field) + "".join(f'<p class="error" role="alert">{_text(e)}</p>' for e in field.errors)
        for field in form.hidden_fields()
    )
    fields = "".join(_field(field) for field in form.visible_fields())
    return mark_safe(f"{errors}\n{hidden}\n{fields}\n")  # noqa: S308 - escaped above
