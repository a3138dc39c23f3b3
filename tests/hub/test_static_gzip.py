"""Static files with a gzip copy beside them go out compressed to browsers that accept it (the
same bytes once decompressed), plain to the others; every copy still matches its file."""

from __future__ import annotations

import gzip
from pathlib import Path

from flask import Flask

STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static"
BUNDLE = "vendor/cornerstone/cornerstone.js"


def test_every_gzip_copy_matches_its_file() -> None:
    copies = sorted(STATIC.rglob("*.gz"))
    assert any(p.name == "cornerstone.js.gz" for p in copies)
    for packed in copies:
        original = packed.with_suffix("")
        assert original.is_file(), f"{packed} has no original"
        assert gzip.decompress(packed.read_bytes()) == original.read_bytes(), (
            f"{packed} is stale: run `make vendor`"
        )


def test_the_bundle_goes_out_compressed_when_accepted(app: Flask) -> None:
    client = app.test_client()
    original = (STATIC / BUNDLE).read_bytes()
    packed = client.get(f"/static/{BUNDLE}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.mimetype == "text/javascript"
    assert gzip.decompress(packed.get_data()) == original
    assert len(packed.get_data()) < len(original) / 2
    plain = client.get(f"/static/{BUNDLE}", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.get_data() == original
    refused = client.get(f"/static/{BUNDLE}", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    # A file without a copy, and a path that leaves the folder, are served as before.
    assert "Content-Encoding" not in client.get("/static/hub.css").headers
    assert client.get("/static/../hub/__init__.py").status_code == 404
