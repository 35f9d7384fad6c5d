"""The 13th birthday (R-34): proxy access ends and the child's notification settings are cleared."""
