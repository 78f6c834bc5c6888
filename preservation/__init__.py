"""Preservation dispatcher: cross-border data preservation requests, dispatched and tracked."""

__version__ = "0.1.0"
