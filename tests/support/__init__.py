"""Test harness shared by every package's tests: databases, factories, personas, matrix."""
