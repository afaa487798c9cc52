# A visitor key's next conversation (a new ticket) once its ticket has been closed for
# LIVECHAT_NEW_CONVERSATION_AFTER_HOURS: unique per (channel, key, number) instead of
# (channel, key). Existing rows are each key's first conversation.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('livechat', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='number',
            field=models.PositiveIntegerField(default=1, help_text="1 for the key's first conversation, then 2, 3, …"),
        ),
        migrations.AddConstraint(
            model_name='conversation',
            constraint=models.UniqueConstraint(fields=('channel', 'key', 'number'), name='livechat_conversation_number_once'),
        ),
        migrations.RemoveConstraint(
            model_name='conversation',
            name='livechat_conversation_once',
        ),
    ]
