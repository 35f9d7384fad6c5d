"""Attachments (bilagor, R-22..R-26): presigned upload, content check, binding to a message, download."""
