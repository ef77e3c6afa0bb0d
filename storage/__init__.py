"""The SQLite layer: the only code in Lotse that writes SQL."""

from storage.conversation_store import ConversationStore
from storage.state_store import StateStore, StoredConversation
from storage.state_writer import WriterStore

__all__ = ["ConversationStore", "StateStore", "StoredConversation", "WriterStore"]
