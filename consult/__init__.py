"""Consultation requests, rosters, routing, SLA and outcomes (not built yet)."""
