"""`{% row_url %}`: Django's `{% url %}` for the links of a list's rows.

The same arguments and output as `{% url %}`; when the last argument is a UUID the pattern
is reversed once per process (organizations.links), not once per row. Any other last
argument goes through `{% url %}` unchanged.
"""

from __future__ import annotations

import uuid

from django import template
from django.template.base import Parser, Token
from django.template.context import Context
from django.template.defaulttags import URLNode, url
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from organizations.links import row_link

register = template.Library()


class RowURLNode(URLNode):
    def render(self, context: Context) -> str:
        args = [arg.resolve(context) for arg in self.args]
        if self.kwargs or not args or not isinstance(args[-1], uuid.UUID):
            return super().render(context)
        # As `{% url %}` reads it.
        try:
            current_app = context.request.current_app  # type: ignore[attr-defined]
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace  # type: ignore[attr-defined]
            except AttributeError:
                current_app = None
        try:
            link = row_link(self.view_name.resolve(context), *args[:-1], current_app=current_app)(
                args[-1]
            )
        except NoReverseMatch:
            if self.asvar is None:
                raise
            link = ""
        if self.asvar:
            context[self.asvar] = link
            return ""
        return conditional_escape(link) if context.autoescape else link


@register.tag
def row_url(parser: Parser, token: Token) -> RowURLNode:
    node = url(parser, token)
    return RowURLNode(node.view_name, node.args, node.kwargs, node.asvar)
