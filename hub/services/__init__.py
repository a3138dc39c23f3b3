"""Core domain services: pure logic over a session, no Flask request objects."""
