from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.choices import CallableChoiceIterator, normalize_choices
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from organizations.audit import ACTOR_CHOICES, AREAS, known_actions
from organizations.form_html import PythonWidgets
from organizations.models import AuditEntry, Membership, Organization, member_label


@functools.lru_cache(maxsize=4)
def _options_html(choices: tuple[tuple[str, str], ...]) -> str:
    return "".join(
        str(format_html('<option value="{}">{}</option>', value, label)) for value, label in choices
    )


@functools.lru_cache(maxsize=4)
def _called(choices: Callable[[], Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in normalize_choices(choices()))


class TimeZoneSelect(forms.Select):
    """The same select as Django's, its ~600 options rendered once per process.

    Django renders each option through a template: some 25 ms a view, which made the
    settings page the slowest of the back office (docs/PERFORMANCE.md). Time-zone names are
    not translated, so one rendering serves every language. Choices given as a callable
    (the model's `time_zone_choices`, the zones on disk, read once per process) are called
    once per process too: Django would list them anew each time it reads them, twice a view.
    """

    template_name = "includes/time_zone_select.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        # Widget's context, not ChoiceWidget's: its per-option dictionaries are the cost.
        context = forms.Widget.get_context(self, name, value, attrs)
        context["widget"]["options"] = self.options_html(context["widget"]["value"])
        return context

    def listed(self) -> tuple[tuple[str, str], ...]:
        if isinstance(self.choices, CallableChoiceIterator):
            return _called(self.choices.func)  # type: ignore[arg-type]  # a function is hashable
        return tuple((str(value), str(label)) for value, label in self.choices)

    def use_required_attribute(self, initial: Any) -> bool:
        # Select's rule, read from the choices listed once.
        first = next(iter(self.listed()), None)
        return (
            forms.Widget.use_required_attribute(self, initial)
            and first is not None
            and self._choice_has_empty_value(first)  # type: ignore[attr-defined]
        )

    def options_html(self, values: list[str]) -> SafeString:
        html = _options_html(self.listed())
        for value in values[:1]:
            option = str(format_html('<option value="{}">', value))
            html = html.replace(option, option[:-1] + " selected>", 1)
        return mark_safe(html)  # noqa: S308 - every value and label went through format_html


# The settings page's forms: their plain widgets written in Python (organizations.form_html).
SETTINGS_RENDERER = PythonWidgets()


class OrganizationForm(forms.ModelForm):
    default_renderer = SETTINGS_RENDERER

    class Meta:
        model = Organization
        fields = [
            "name",
            "time_zone",
            "default_language",
            "date_style",
            "require_two_factor",
            "contact_email",
        ]
        widgets = {"time_zone": TimeZoneSelect}
        help_texts = {
            "default_language": _(
                "The language your field labels, help texts, lists and group titles are written "
                "in, and the one a reader gets when no translation is given."
            )
        }


class AddMemberForm(forms.Form):
    default_renderer = SETTINGS_RENDERER
    # 150: the length of a user name, which a new account takes from its e-mail.
    email = forms.EmailField(label=_("E-mail"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(
        label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.STAFF
    )


class NewAccountForm(forms.Form):
    """The account of an invited person who has none: a name and a password."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            user = get_user_model()(
                username=self.email,
                email=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class AuditFilterForm(forms.Form):
    """One filter for the audit log page and its CSV export."""

    app = forms.ChoiceField(label=_("Area"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    user = forms.ChoiceField(label=_("Who"), required=False)
    since = forms.DateField(
        label=pgettext_lazy("first day of a range", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        # Not "To" as in an e-mail's recipient, which French says otherwise.
        label=pgettext_lazy("last day of a range", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = known_actions()
        apps_seen = sorted({a.app for a in actions})
        area, action, who = self.fields["app"], self.fields["action"], self.fields["user"]
        assert isinstance(area, forms.ChoiceField)
        assert isinstance(action, forms.ChoiceField)
        assert isinstance(who, forms.ChoiceField)
        area.choices = [
            ("", _("All")),
            *((app, AREAS.get(app, app)) for app in apps_seen),
        ]
        action.choices = [("", _("All")), *((a, a.label) for a in actions)]
        members = Membership.objects.filter(organization=organization).select_related("user")
        people = sorted(
            ((str(m.user_id), member_label(m.user)) for m in members),
            key=lambda choice: choice[1].lower(),
        )
        who.choices = [("", _("Anyone")), *people, *ACTOR_CHOICES.items()]
        self.member_names = dict(people)

    def entries(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if not self.is_bound or not self.is_valid():
            return entries
        data = self.cleaned_data
        if data["app"]:
            entries = entries.filter(action__startswith=data["app"] + ".")
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["user"].startswith("actor:"):
            entries = entries.filter(actor=data["user"].removeprefix("actor:"))
        elif data["user"]:
            entries = entries.filter(user_id=int(data["user"]))
        tz = timezone.get_current_timezone()
        if data["since"] and (start := _midnight(data["since"], tz)) is not None:
            entries = entries.filter(at__gte=start)
        if data["until"] and data["until"] < dt.date.max:
            end = _midnight(data["until"] + dt.timedelta(days=1), tz)
            entries = entries.filter(at__lt=end) if end is not None else entries.none()
        return entries

    def describe(self) -> str:
        if not self.is_bound or not self.is_valid():
            return ""
        chosen = dict(self.cleaned_data)
        if chosen["user"] and not chosen["user"].startswith("actor:"):
            # Named as the page showed them: an account's id tells the log's reader nothing.
            chosen["user"] = self.member_names[chosen["user"]]
        return ", ".join(f"{k}={v}" for k, v in chosen.items() if v)


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime | None:
    """The start of `day` in `tz`, in UTC; None for the calendar's first or last days, which
    a time zone can push out of the datetimes Python holds (no bound, rather than a 500)."""
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    except OverflowError:
        return None


class NoticesForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["notices"]
        widgets = {"notices": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["notices"]
        assert isinstance(field, forms.ChoiceField)
        field.required = True
        field.choices = Membership.Notices.choices
        field.label = _("E-mails about submitted dossiers")
        self.initial["notices"] = self.instance.effective_notices

    def clean_notices(self) -> str:
        chosen = self.cleaned_data["notices"]
        # Keeping the role's default stays "the default", so a later change of role applies.
        if not self.instance.notices and chosen == self.instance.effective_notices:
            return ""
        return chosen


class RetryAddressForm(forms.Form):
    """ "Try again" on a failing address, from wherever the page shows it."""

    address = forms.EmailField(max_length=254)
    confirmed = forms.BooleanField(
        label=_("The client asked to receive our e-mails again"), required=False
    )
