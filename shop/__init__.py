"""The reference shop: a fast local stand-in for the serverless shop under test."""
