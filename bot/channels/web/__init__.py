"""The web chat page: an aiohttp server, its JSON API and its static files."""
