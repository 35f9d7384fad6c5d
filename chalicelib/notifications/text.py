"""The notification texts (R-11). They carry nothing about the case, no clinic, no link: a notification
may be read by anyone who sees the phone or the mailbox."""

from __future__ import annotations

SMS_TEXT = (
    "Du har ett meddelande i e-tjänsterna på 1177. Meddelandet finns i inkorgen när du loggat in på 1177. "
    "Obs! Du kan inte svara på detta sms."
)
SMS_SENDER_ID = "1177"

EMAIL_SUBJECT = "Nytt meddelande i 1177"
EMAIL_BODY = (
    "Hej!\n\n"
    "Du har ett meddelande i e-tjänsterna på 1177. Meddelandet finns i inkorgen när du loggat in på 1177.\n\n"
    "Obs! Du kan inte svara på detta mejl.\n"
)

DEFAULT_FROM_EMAIL = "no-reply@e-tjanster.example"  # NOTIFICATION_FROM_EMAIL overrides it
