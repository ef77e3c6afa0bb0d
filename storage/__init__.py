"""The SQLite layer: the only code in Lotse that writes SQL."""

from storage.state_store import StateStore, StoredConversation

__all__ = ["StateStore", "StoredConversation"]
