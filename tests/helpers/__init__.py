"""Shared test helpers: one place, imported by tests, never copied."""
