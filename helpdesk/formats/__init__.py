"""Date and time formats per language (settings.FORMAT_MODULE_PATH), over Django's own.

Templates name the format (`|date:"DATETIME_FORMAT"`, `"SHORT_DATETIME_FORMAT"` for a moment
this year without the year, `"DATE_FORMAT"`), never spell it, so each language reads its own
way: English "5 Dec 2026, 14:02", Norwegian "5. des 2026 14:02". Machine-readable moments
(`datetime=` attributes, ISO titles) keep fixed formats.
"""
