"""The async layer between channels and the engine: locks, storage, rate limit, reminders."""
