"""Tests of the reference shop (shop/)."""
