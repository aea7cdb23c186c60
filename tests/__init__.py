"""surge test suite."""
