"""Referrals, virtual clinics, transfers, command-centre views (not built yet)."""
