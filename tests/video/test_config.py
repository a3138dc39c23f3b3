"""Video settings: TURN secret (or its file), TURN/STUN URLs, relay-only, bitrate; bad values
stop the process with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_settings


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HUB_DATA_DIR": str(tmp_path), "HUB_SECRET_KEY": "x" * 40, **extra}


def test_defaults_and_a_full_turn_setup(tmp_path: Path) -> None:
    video = load_settings(_env(tmp_path)).video
    assert video.turn_urls == () and not video.relay_only and video.max_bitrate == 800_000
    assert video.recording_dir == tmp_path.resolve() / "recordings"
    secret = tmp_path / "turn-secret"
    secret.write_text("a-long-enough-turn-secret\n")
    video = load_settings(
        _env(
            tmp_path,
            HUB_TURN_SECRET_FILE=str(secret),
            HUB_TURN_URLS="turn:turn.example:3478?transport=udp, turns:turn.example:5349",
            HUB_STUN_URLS="stun:turn.example:3478",
            HUB_VIDEO_RELAY_ONLY="true",
            HUB_TURN_TTL="600",
        )
    ).video
    assert video.turn_secret == "a-long-enough-turn-secret"
    assert video.turn_urls == ("turn:turn.example:3478?transport=udp", "turns:turn.example:5349")
    assert video.relay_only and video.turn_ttl == 600


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"HUB_TURN_SECRET": "short"}, "HUB_TURN_SECRET must be at least 16"),
        ({"HUB_TURN_URLS": "turn:x:3478"}, "HUB_TURN_URLS needs HUB_TURN_SECRET"),
        (
            {"HUB_TURN_SECRET": "s" * 20, "HUB_TURN_URLS": "http://x"},
            "HUB_TURN_URLS: 'http://x' must start with",
        ),
        ({"HUB_STUN_URLS": "turn:x"}, "HUB_STUN_URLS"),
        ({"HUB_VIDEO_RELAY_ONLY": "true"}, "HUB_VIDEO_RELAY_ONLY needs HUB_TURN_URLS"),
        ({"HUB_VIDEO_MAX_BITRATE": "10"}, "HUB_VIDEO_MAX_BITRATE=10 must be at least"),
        ({"HUB_TURN_TTL": "1d"}, "HUB_TURN_TTL='1d' is not an integer"),
        ({"HUB_RECORDING_RETENTION_YEARS": "5"}, "HUB_RECORDING_RETENTION_YEARS=5"),
        ({"HUB_TURN_SECRET": "s" * 20, "HUB_TURN_SECRET_FILE": "/x"}, "both set"),
    ],
)
def test_bad_video_settings_name_the_variable(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        load_settings(_env(tmp_path, **extra))
