"""`python -m bot` is `lotse`."""

from bot.cli import entry_point

entry_point()
