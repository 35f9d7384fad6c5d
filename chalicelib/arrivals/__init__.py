"""Arrivals: the write side of the citizen's inbox (cases, the support desk, notifications, notices write
here; `inbox` reads). An arrival is something new for the citizen: it carries a due marker (the outbox)
until its notifications are claimed."""
