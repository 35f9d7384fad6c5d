"""Appointment notices (kallelser) from the booking systems, released after 18:00 (R-40..R-43, R-41a)."""
