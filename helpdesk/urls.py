from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from helpdesk import api
from helpdesk.views import attachments, bulk, home, outbox, owner_search, queues, tickets

api_urls = [
    path("tickets/", api.tickets_collection, name="api-tickets"),
    path("tickets/<int:ticket_id>/", api.ticket_detail, name="api-ticket"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("queues/<slug:slug>/", queues.queue_view, name="queue"),
    path("queues/<slug:slug>/bulk/", bulk.queue_bulk, name="queue-bulk"),
    path("tickets/<int:ticket_id>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/owner/", tickets.ticket_owner, name="ticket-owner"),
    path("owners/search/", owner_search.owner_search, name="owner-search"),
    path(
        "tickets/<int:ticket_id>/owner/search/",
        owner_search.ticket_owner_search,
        name="ticket-owner-search",
    ),
    path("tickets/<int:ticket_id>/reply/", tickets.ticket_reply, name="ticket-reply"),
    path("tickets/<int:ticket_id>/status/", tickets.ticket_status, name="ticket-status"),
    path("tickets/<int:ticket_id>/priority/", tickets.ticket_priority, name="ticket-priority"),
    path(
        "tickets/<int:ticket_id>/properties/", tickets.ticket_properties, name="ticket-properties"
    ),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        attachments.attachment_download,
        name="attachment-download",
    ),
    path(
        "tickets/<int:ticket_id>/outbound/<int:outbound_id>/retry/",
        outbox.outbound_retry,
        name="outbound-retry",
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls)),
    # The other apps' pages (the core imports none of their code, only their URLconfs).
    path("settings/channels/", include("channels_cfg.urls")),
    path("settings/people/", include("people.manage.urls")),  # people: users, teams, seats, skills
    path("routing/", include("routing.urls")),
    path("notifications/", include("notifications.urls")),
    path("mail/", include("mailroom.urls")),
    path("whatsapp/", include("whatsapp.urls")),  # whatsapp: webhook, template form
    path("f/", include("webforms.urls")),  # webforms: the public form pages
    path("calls/", include("calls.urls")),  # calls: Twilio voice webhooks
    path("chat/", include("livechat.urls")),  # livechat: widget, custom chat API, demo
    path("me/", include("people.urls")),  # people: my availability
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
