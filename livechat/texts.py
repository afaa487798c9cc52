"""The chat widget's words, in the visitor's language (Accept-Language, through
LocaleMiddleware). `static/livechat/widget.js` keeps the English ones under the same keys and
uses these where the answer has them."""

from django.utils.translation import gettext


def widget_texts() -> dict[str, str]:
    return {
        "unreachable": gettext("We could not reach the chat. Try again in a moment."),
        "busy": gettext("Too many messages just now. Wait a few minutes, then try again."),
        "chat_with_us": gettext("Chat with us"),
        "close": gettext("Close the chat"),
        "try_again": gettext("Try again"),
        "empty": gettext("Hello! Write your question below and one of us will answer here."),
        "messages": gettext("Messages"),
        "name": gettext("Your name (optional)"),
        "email": gettext("Email (optional)"),
        "message": gettext("Your message"),
        "placeholder": gettext("Write a message…"),
        "send": gettext("Send"),
        "hint": gettext("Enter sends, Shift+Enter starts a new line."),
        "you": gettext("You"),
        "support": gettext("Support"),
        "sending": gettext("Sending…"),
        "sent": gettext("Sent"),
        "not_accepted": gettext("This message was not accepted."),
        "not_sent": gettext("Not sent."),
        "send_again": gettext("Send again"),
        "write_first": gettext("Write a message first."),
        # {max}: filled in by the widget
        "too_long": gettext("The message is longer than {max} characters: shorten it."),
    }
