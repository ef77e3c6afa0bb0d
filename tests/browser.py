"""Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import shutil

from playwright.async_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking"]


def chromium_missing() -> bool:
    return shutil.which(CHROMIUM) is None


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
