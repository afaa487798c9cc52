"""The public form: validation only. Every message says what to do next."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext, gettext_lazy

from webforms import limits
from webforms.services import Attachment, Submission
from webforms.tokens import BadToken, FormToken, read_form_token

HONEYPOT = "website"  # a field a person never sees; bots fill in anything named like this
SIGNATURE_BYTES = 16
NUL = gettext_lazy("Remove the invisible NUL character (it cannot be stored), then send again.")


class SubmissionForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Your name"),
        max_length=limits.NAME_MAX,
        error_messages={
            "required": gettext_lazy("Enter your name."),
            "null_characters_not_allowed": NUL,
            "max_length": gettext_lazy("Shorten your name to at most %(limit_value)d characters."),
        },
    )
    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=limits.EMAIL_MAX,
        help_text=gettext_lazy("We answer you at this address."),
        error_messages={
            "required": gettext_lazy("Enter your email address, so that we can answer you."),
            "null_characters_not_allowed": NUL,
            "invalid": gettext_lazy("Enter an email address like name@example.com."),
            "max_length": gettext_lazy("An email address has at most %(limit_value)d characters."),
        },
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=limits.SUBJECT_MAX,
        error_messages={
            "required": gettext_lazy("Enter a subject: a few words about your question."),
            "null_characters_not_allowed": NUL,
            "max_length": gettext_lazy(
                "Shorten the subject to at most %(limit_value)d characters (it has %(show_value)d)."
            ),
        },
    )
    message = forms.CharField(
        label=gettext_lazy("Message"),
        widget=forms.Textarea(attrs={"rows": 7}),
        error_messages={
            "required": gettext_lazy("Write your message."),
            "null_characters_not_allowed": NUL,
        },
    )
    attachment = forms.FileField(
        label=gettext_lazy("Attachment (optional)"),
        required=False,
        allow_empty_file=True,  # an empty file gets the clearer message of limits.check_file
        error_messages={"invalid": gettext_lazy("The file could not be read. Choose it again.")},
    )
    website = forms.CharField(required=False, label=gettext_lazy("Leave this field empty"))
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, form_settings, visitor_token: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_settings = form_settings
        self.visitor_token = visitor_token
        self.form_token: FormToken | None = None
        self.token_expired = False
        limit = settings.FORMS_MAX_MESSAGE_CHARS
        message = self.fields["message"]
        message.max_length = limit
        message.validators.append(MaxLengthValidator(limit))
        message.error_messages["max_length"] = gettext(
            "Shorten the message to at most %(limit_value)d characters (it has %(show_value)d)."
        )
        max_bytes = settings.FORMS_MAX_ATTACHMENT_BYTES
        self.fields["attachment"].help_text = gettext(
            "One file up to %(megabytes)s: PDF, image, text or office document."
        ) % {"megabytes": limits.megabytes(max_bytes)}
        if not form_settings.allow_attachments:
            del self.fields["attachment"]
        autocomplete = {
            "name": "name",
            "email": "email",
            "subject": "off",
            "message": "off",
        }
        for name, value in autocomplete.items():
            self.fields[name].widget.attrs.update(
                {"autocomplete": value, "class": "form-control", "required": True}
            )
        self.fields["message"].widget.attrs["maxlength"] = limit
        if "attachment" in self.fields:
            self.fields["attachment"].widget.attrs.update(
                {"class": "form-control", "accept": ",".join(f".{e}" for e in limits.ALLOWED_TYPES)}
            )
        trap = self.fields[HONEYPOT]
        trap.validators = []  # anything in it, even a NUL, only marks the submission as spam
        trap.widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})

    # --- fields ---------------------------------------------------------------------

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if not upload:
            return None
        try:
            head = upload.read(SIGNATURE_BYTES)
            checked = limits.check_file(
                filename=upload.name or "",
                size=upload.size,
                head=head,
                max_bytes=settings.FORMS_MAX_ATTACHMENT_BYTES,
            )
            upload.seek(0)
            content = upload.read()
        except limits.Refused as exc:
            raise ValidationError(str(exc)) from exc
        except OSError as exc:
            raise ValidationError(gettext("The file could not be read. Choose it again.")) from exc
        return Attachment(
            filename=checked.filename, content_type=checked.content_type, content=content
        )

    def clean_token(self):
        try:
            self.form_token = read_form_token(
                self.cleaned_data.get("token") or "", public_id=self.form_settings.public_id
            )
        except BadToken as exc:
            self.token_expired = exc.expired
            raise ValidationError(
                gettext("This page was open for too long. Check your message and press Send again.")
                if exc.expired
                else gettext("This form could not be checked. Press Send again.")
            ) from exc
        return self.cleaned_data["token"]

    def clean(self):
        if "attachment" not in self.fields and self.files:
            raise ValidationError(
                gettext("This form does not take attachments. Send it without one.")
            )
        return super().clean()

    # --- results --------------------------------------------------------------------

    def submission(self) -> Submission:
        data = self.cleaned_data
        token = self.form_token
        return Submission(
            submission_id=token.submission_id,
            name=data["name"],
            email=data["email"],
            subject=data["subject"],
            message=data["message"],
            # The cookie counts only when this page was rendered for it (tokens.py: CSRF).
            visitor_token=self.visitor_token if token.issued_for(self.visitor_token) else None,
            honeypot=bool(data.get(HONEYPOT, "").strip()),
            attachment=data.get("attachment"),
        )

    def mark_invalid_fields(self) -> None:
        """aria-invalid and the error's id on every field with an error."""
        for name in self.errors:
            if name in self.fields:
                field = self.fields[name]
                attrs = field.widget.attrs
                attrs["aria-invalid"] = "true"
                helptext = f" id_{name}_helptext" if field.help_text else ""
                attrs["aria-describedby"] = f"id_{name}_error{helptext}"
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
