"""Video consultations: signalling, TURN, media worker, recordings (not built yet)."""
