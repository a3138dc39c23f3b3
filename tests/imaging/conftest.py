"""Imaging fixtures: a calling AE per persona facility and a real ``hub dicom`` process on the
session's database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from hub import db
from imaging.models import AeKind, CallingAe
from tests.imaging.peers import Node, running_node
from tests.support.personas import World


@dataclass(frozen=True)
class Titles:
    a: str  # a modality of facility A
    b: str  # a modality of facility B
    c: str  # facility C, region Y


def new_title(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}".upper()


@pytest.fixture(scope="session")
def titles(app: Flask, world: World) -> Titles:
    found = Titles(new_title("MODA"), new_title("MODB"), new_title("MODC"))
    with app.app_context(), db.transaction() as sess:
        for title, facility in (
            (found.a, world.facility_a),
            (found.b, world.facility_b),
            (found.c, world.facility_c),
        ):
            sess.add(CallingAe(ae_title=title, facility_id=facility.id, kind=AeKind.MODALITY))
    return found


@pytest.fixture(scope="session")
def node(
    database_url: str, titles: Titles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    with running_node(database_url, tmp_path_factory.mktemp("node")) as running:
        yield running


def storage_dir(node: Node) -> Path:
    return Path(node.env["HUB_DATA_DIR"]) / "dicom"
