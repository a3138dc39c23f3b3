"""The synthetic peer under its test-facing name, for the tests and benchmarks; the code lives in
``video.synthetic`` (production imports that, never this module)."""

from __future__ import annotations

from video.synthetic import SyntheticAudio, SyntheticVideo, run_test_peer

__all__ = ["SyntheticAudio", "SyntheticVideo", "run_test_peer"]
