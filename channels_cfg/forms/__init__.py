"""The channel settings forms (R14–R20): a channel's details, and its Automation form, whose
options follow the channel kind's policy (`helpdesk.channel_kinds`) exactly as the spec lists
them.

Validation and crispy layout only: `channels_cfg.services` saves. Fields that do not apply to
what is chosen (the users picker while "Assign incoming tickets to" is None, …) are hidden by
`static/js/channel_settings.js` and ignored here — not validated, and saved as they were — so
the page works the same with JavaScript off. `groups.groups_in_effect` (the form's
`group_rules`) says when each group of fields applies; the script reads the very same
rules (rendered with `json_script`).

The forms live in one module per concept; this package re-exports what other code imports.
The Automation form (`automation`) is put together from one part per concern: `assignment`
(how assignment is decided), `recipients` (who, and how one is picked), `skills` and
`hours_voicemail`.
"""

from channels_cfg.forms.audio import looks_like_audio
from channels_cfg.forms.automation import AutomationForm
from channels_cfg.forms.channel import ChannelCreateForm, ChannelDetailsForm
from channels_cfg.forms.formsets import OpeningHoursFormSet, SkillRuleFormSet
from channels_cfg.forms.groups import groups_in_effect
from channels_cfg.forms.preview import PreviewSampleForm

__all__ = [
    "AutomationForm",
    "ChannelCreateForm",
    "ChannelDetailsForm",
    "OpeningHoursFormSet",
    "PreviewSampleForm",
    "SkillRuleFormSet",
    "groups_in_effect",
    "looks_like_audio",
]
