"""surge: open-model, distributed load testing for web-shop APIs, on Locust."""

__version__ = "0.1.0"
