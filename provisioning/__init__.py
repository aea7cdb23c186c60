"""Bringing generators up: local master/worker processes, and what runs on an EC2 instance."""
