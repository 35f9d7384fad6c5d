"""The support desk's account lifecycle: lock, unlock, the head of unit's unlock decision, sealing."""
