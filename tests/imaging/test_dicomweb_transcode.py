"""WADO-RS frames in another transfer syntax: uncompressed frames sent JPEG-LS or RLE lossless
when asked (the same pixels, fewer bytes over a health post's link), compressed ones as stored
to ``transfer-syntax=*``, and the fallbacks when an encoder cannot take the pixels."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import JPEGLSLossless, RLELossless, generate_uid

from tests.imaging.dicomdata import ct_instance
from tests.imaging.multipart import multipart, part10, parts_with_headers
from tests.support.personas import World

ROOT = "/dicomweb"
JLS = 'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80'
RLE = 'multipart/related; type="image/dicom-rle"'
ANY = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
# What the hub's viewer asks (frontend/static/dicom-viewer.js).
VIEWER = f"{JLS}, {ANY}"
OCTET = 'multipart/related; type="application/octet-stream"'


def _noisy_ct(number: int, study: str, series: str, **kwargs: object) -> Dataset:
    """A CT slice with a body and noise, as a scanner's are (a gradient compresses to nothing)."""
    return ct_instance(
        patient_id="TX" + secrets.token_hex(4).upper(),
        study_uid=study,
        series_uid=series,
        number=number,
        size=64,
        phantom=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _stow(client: FlaskClient, world: World, datasets: list[Dataset]) -> None:
    body, kind = multipart([("application/dicom", part10(ds)) for ds in datasets])
    resp = client.post(
        f"{ROOT}/studies", data=body, headers={**world["hw_a"].headers, "Content-Type": kind}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)


def _frames(
    client: FlaskClient, world: World, ds: Dataset, accept: str, frames: str = "1"
) -> tuple[int, str, list[tuple[str, bytes]]]:
    resp = client.get(
        f"{ROOT}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frames}",
        headers={**world["hw_a"].headers, "Accept": accept},
    )
    if resp.status_code != 200:
        return resp.status_code, resp.content_type, []
    return 200, resp.content_type, parts_with_headers(resp.get_data(), resp.content_type)


def _decoded(data: bytes, syntax: str, ds: Dataset) -> np.ndarray:
    """A frame decoded by pydicom's decoder for ``syntax``, as the stored pixels' type."""
    arr, _meta = get_decoder(syntax).as_array(
        encapsulate([data]),
        rows=ds.Rows,
        columns=ds.Columns,
        samples_per_pixel=ds.SamplesPerPixel,
        bits_allocated=ds.BitsAllocated,
        bits_stored=ds.BitsStored,
        pixel_representation=ds.PixelRepresentation,
        photometric_interpretation=ds.PhotometricInterpretation,
        number_of_frames=1,
    )
    return np.asarray(arr)


def _stored(ds: Dataset, frame: int = 1) -> np.ndarray:
    size = ds.Rows * ds.Columns * ds.BitsAllocated // 8
    raw = bytes(ds.PixelData)[(frame - 1) * size : frame * size]
    return np.frombuffer(raw, dtype="<i2" if ds.PixelRepresentation else "<u2").reshape(
        ds.Rows, ds.Columns
    )


@pytest.mark.parametrize(
    ("accept", "media", "syntax"),
    [
        (JLS, "image/jls", str(JPEGLSLossless)),
        ('multipart/related; type="image/jls"', "image/jls", str(JPEGLSLossless)),
        (RLE, "image/dicom-rle", str(RLELossless)),
        (VIEWER, "image/jls", str(JPEGLSLossless)),
    ],
)
def test_uncompressed_frames_are_sent_losslessly_compressed_when_asked(
    app: Flask, client: FlaskClient, world: World, accept: str, media: str, syntax: str
) -> None:
    ds = _noisy_ct(1, generate_uid(), generate_uid())
    _stow(client, world, [ds])
    status, kind, got = _frames(client, world, ds, accept)
    assert status == 200
    assert kind.startswith(f'multipart/related; type="{media}"')
    ((head, data),) = got
    assert f"Content-Type: {media}; transfer-syntax={syntax}" in head
    assert len(data) < len(ds.PixelData) * 0.75  # noise and all, smaller
    assert np.array_equal(_decoded(data, syntax, ds), _stored(ds))  # lossless


def test_uncompressed_frames_as_stored_unless_a_compressed_syntax_is_named(
    app: Flask, client: FlaskClient, world: World
) -> None:
    ds = _noisy_ct(2, generate_uid(), generate_uid())
    _stow(client, world, [ds])
    for accept in (ANY, OCTET, "*/*", f"{OCTET}, {JLS}"):
        status, kind, got = _frames(client, world, ds, accept)
        assert status == 200, accept
        assert kind.startswith('multipart/related; type="application/octet-stream"'), accept
        assert got[0][1] == bytes(ds.PixelData), accept
    # JPEG 2000 is not offered (no encoder): refused, not sent as something else.
    jp2 = 'multipart/related; type="image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.90'
    assert _frames(client, world, ds, jp2)[0] == 406


def test_multi_frame_instances_transcode_each_frame_asked(
    app: Flask, client: FlaskClient, world: World
) -> None:
    ds = _noisy_ct(3, generate_uid(), generate_uid())
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 2000, (64, 64), dtype=np.int16) for _ in range(3)]
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(f.tobytes() for f in frames)
    _stow(client, world, [ds])
    status, _kind, got = _frames(client, world, ds, JLS, "3,1")
    assert status == 200 and len(got) == 2
    assert np.array_equal(_decoded(got[0][1], str(JPEGLSLossless), ds), frames[2])
    assert np.array_equal(_decoded(got[1][1], str(JPEGLSLossless), ds), frames[0])


def test_compressed_frames_go_as_stored_to_any_syntax(
    app: Flask, client: FlaskClient, world: World
) -> None:
    ds = _noisy_ct(4, generate_uid(), generate_uid(), syntax=RLELossless)
    _stow(client, world, [ds])
    for accept in (ANY, VIEWER):
        status, kind, got = _frames(client, world, ds, accept)
        assert status == 200, accept
        assert kind.startswith('multipart/related; type="image/dicom-rle"'), accept
        ((head, data),) = got
        assert f"transfer-syntax={RLELossless}" in head
        assert np.array_equal(_decoded(data, str(RLELossless), ds), ds.pixel_array.astype(np.int16))
    # Decompressing is not offered: asked only uncompressed or JPEG-LS, they are refused.
    assert _frames(client, world, ds, OCTET)[0] == 406
    assert _frames(client, world, ds, JLS)[0] == 406


def test_pixels_outside_the_encoders_fall_back_to_the_next_entry(
    app: Flask, client: FlaskClient, world: World
) -> None:
    """32-bit pixels are outside what is offered: as stored when the request allows it."""
    ds = _noisy_ct(5, generate_uid(), generate_uid())
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.Columns = 32  # the same bytes, as 32-bit pixels
    _stow(client, world, [ds])
    status, kind, got = _frames(client, world, ds, VIEWER)
    assert status == 200 and kind.startswith('multipart/related; type="application/octet-stream"')
    assert got[0][1] == bytes(ds.PixelData)
    assert _frames(client, world, ds, JLS)[0] == 406
