"""Lotse: a guide for municipal staff after an incident of hate, threat or violence at work."""

__version__ = "0.1.0"
