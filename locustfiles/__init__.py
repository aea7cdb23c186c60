"""What runs inside Locust: the open-model engine and the bundled scenarios."""
