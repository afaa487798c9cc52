"""Personal settings › Language: the language of a user's pages and emails.

Parse → one service call → redirect; `helpdesk.middleware` applies the choice on every request.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.services.preferences import set_language


def language_choices():
    return [("", gettext_lazy("The browser's language")), *settings.LANGUAGES]


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        choices=language_choices,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )


@login_required
def language_page(request):
    user = request.user
    if request.method == "POST":
        form = LanguageForm(request.POST)
        if form.is_valid():
            try:
                set_language(user=user, code=form.cleaned_data["language"])
            except ValidationError as exc:
                form.add_error("language", exc)
        if form.is_valid():
            # The confirmation reads in the language just chosen.
            code = user.language or translation.get_language_from_request(request)
            translation.activate(code)
            messages.success(request, _("Saved. Pages and emails use this language from now on."))
            return redirect("people:language")
        status = 400
    else:
        form, status = LanguageForm(initial={"language": user.language}), 200
    browser = translation.get_language_from_request(request)
    context = {"form": form, "browser_language": dict(settings.LANGUAGES).get(browser, browser)}
    return render(request, "people/language.html", context, status=status)
