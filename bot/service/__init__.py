"""The async conversation service between channels and the engine: one lock per
conversation, state loaded and saved through storage, expiry, rate limit, reminders."""
