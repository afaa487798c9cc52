"""Helpers for tests of a channel's Details tab and the panels other apps add to it
(`channels_cfg.panels`): the page's address, its plain text, one panel as the page shows
it, and what a browser posts for a panel's form."""

import re
from html import unescape

from django import forms
from django.urls import reverse


def details_url(channel) -> str:
    return reverse("channels_cfg:details", args=[channel.pk])


def text(response) -> str:
    """The page as plain text: no tags, scripts or templates, whitespace collapsed."""
    body = re.sub(r"<(script|template)\b.*?</\1>", "", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).replace(" :", ":")


def panel_in(response, key: str):
    """The panel with this key as the page shows it (its form, results and extras)."""
    return next(p for p in response.context["panels"] if p.key == key)


def browser_data(client, channel, key: str, **changes) -> dict:
    """What a browser posts for the panel `key`'s form as the Details page shows it, then
    `changes` (by field name; True/False ticks or clears a checkbox; None leaves the field
    out)."""
    form = panel_in(client.get(details_url(channel)), key).form
    data = {"panel": key}
    for name, form_field in form.fields.items():
        value = form[name].value()
        if isinstance(form_field, forms.BooleanField):
            if value:
                data[form.add_prefix(name)] = "on"
        elif value not in (None, ""):
            data[form.add_prefix(name)] = str(value)
    for name, value in changes.items():
        field_key = form.add_prefix(name)
        if value is None or value is False:
            data.pop(field_key, None)
        else:
            data[field_key] = "on" if value is True else str(value)
    return data
