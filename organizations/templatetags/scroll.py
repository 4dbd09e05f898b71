"""`{% scrollable label %}…{% endscrollable %}`: a wide table that scrolls inside its box.

On a phone a table wider than the screen scrolls sideways in a box of its own, so that the
page never does. The box is a named region that takes keyboard focus (the arrow keys then
scroll it), and a line above it says there is more to the right (static/js/app.js hides
that line, and takes the box out of the tab order, where the table fits)."""

from __future__ import annotations

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context
from django.utils.html import format_html
from django.utils.translation import gettext

register = template.Library()


class ScrollableNode(template.Node):
    def __init__(self, label: FilterExpression, nodelist: NodeList) -> None:
        self.label = label
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        return format_html(
            '<p class="scroll-cue" aria-hidden="true" data-scroll-cue>{}</p>'
            '<div class="table-wrap" tabindex="0" role="region" aria-label="{}">{}</div>',
            gettext("Scroll sideways to see every column →"),
            self.label.resolve(context),
            self.nodelist.render(context),
        )


@register.tag
def scrollable(parser: Parser, token: Token) -> ScrollableNode:
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("{% scrollable %} takes one argument: the label.")
    nodelist = parser.parse(("endscrollable",))
    parser.delete_first_token()
    return ScrollableNode(parser.compile_filter(bits[1]), nodelist)
