"""The engine: pure and synchronous, `step(bundle, state, event, now) -> (state, outputs)`.
No I/O, no clock, no platform. Everything needed to understand a turn is in this package."""
