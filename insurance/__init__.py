"""Tariffs, coverage, billing records and insurer exports (not built yet)."""
