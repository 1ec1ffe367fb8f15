"""Test helpers shared across suites: served ASGI apps and the like."""
