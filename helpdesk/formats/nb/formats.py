# Norwegian: an ordinal day ("5."), the month's short name in lower case, a 24-hour clock.
DATE_FORMAT = "j. b Y"
DATETIME_FORMAT = "j. b Y H:i"
SHORT_DATETIME_FORMAT = "j. b H:i"
TIME_FORMAT = "H:i"
