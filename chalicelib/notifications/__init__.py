"""Notifications (R-11, R-12): an SMS and/or e-mail, without content, when something arrives in the inbox."""
