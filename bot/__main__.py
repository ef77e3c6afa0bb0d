"""`python -m bot` is `lotse`."""

from bot.cli import main

main()
