"""Admin of the form pages, for superadmins: account admins edit a form on its channel's
Details tab (`webforms.settings_panel`). Nothing here is secret: the public id appears in
every page that embeds the form."""

from django.contrib import admin, messages
from django.utils.html import format_html

from webforms.models import FormSettings
from webforms.services import embed_snippet, public_url, renew_public_id, save_form_settings


@admin.register(FormSettings)
class FormSettingsAdmin(admin.ModelAdmin):
    list_display = ["channel", "public_page", "allow_attachments", "updated_at"]
    list_select_related = ["channel"]
    fields = [
        "channel",
        "title",
        "intro",
        "thank_you",
        "allow_attachments",
        "embed_origins",
        "public_id",
        "public_page",
        "snippet",
    ]
    readonly_fields = ["public_id", "public_page", "snippet"]
    actions = ["new_public_id"]

    def get_readonly_fields(self, request, obj=None):
        # The channel of existing settings stays (its public id is printed on other sites).
        return [*self.readonly_fields, "channel"] if obj else self.readonly_fields

    @admin.display(description="Public page")
    def public_page(self, obj):
        if not obj.pk:
            return "Saved settings get an address."
        url = public_url(obj)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description="Embed on another site")
    def snippet(self, obj):
        if not obj.pk:
            return "-"
        return format_html("<code>{}</code>", embed_snippet(obj))

    def save_model(self, request, obj, form, change):
        save_form_settings(obj)

    @admin.action(description="Give a new public id (old links and snippets stop working)")
    def new_public_id(self, request, queryset):
        for form_settings in queryset.select_related("channel"):
            renew_public_id(form_settings)
            self.message_user(
                request,
                f"{form_settings.channel}: the form is now at {public_url(form_settings)}",
                messages.WARNING,
            )
