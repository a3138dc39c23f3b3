"""The layering rules of docs/architecture.md hold over the whole code base, and the check that
enforces them finds each kind of offence (tried on a small tree with one of each)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from tests.support.layers import check

ROOT = Path(__file__).resolve().parents[2]


def test_the_code_base_keeps_its_layers() -> None:
    offences = check(ROOT)
    assert not offences, "layering offences:\n" + "\n".join(str(o) for o in offences)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip(), encoding="utf-8")


def _clean_tree() -> dict[str, str]:
    return {
        "hub/__init__.py": """
            def create_app():
                # The app factory alone may know the domains.
                import consult
                return consult
        """,
        "hub/hooks.py": '"""Seams."""\n',
        "hub/model_registry.py": "import consult.models\n",
        "consult/__init__.py": "",
        "consult/models.py": "from hub import hooks\n",
        "consult/services.py": "from consult import models\n",
        "consult/schemas.py": "",
        "imaging/__init__.py": "",
        "imaging/reading/__init__.py": "",
        "imaging/reading/services.py": "from consult import services, schemas\n",
        "insurance/__init__.py": "",
        "insurance/services.py": """
            from typing import TYPE_CHECKING

            from consult.services import facts
            from imaging.reading import services as reading

            if TYPE_CHECKING:
                from consult.models import Consult  # types only: not an import at run time


            def later():
                # Imported here: a heavy library only this path needs.
                import json
                import csv

                return json, csv
        """,
    }


def test_a_clean_tree_has_no_offence(tmp_path: Path) -> None:
    _tree(tmp_path, _clean_tree())
    assert check(tmp_path) == []


def test_each_kind_of_offence_is_found_with_its_file_and_line(tmp_path: Path) -> None:
    files = _clean_tree()
    files.update(
        {
            # The core reaches a domain outside the app factory and the model registry.
            "hub/permissions.py": "import json\nfrom consult.models import Consult\n",
            # A domain reaches into another's models and views.
            "insurance/claims.py": "from consult.models import Consult\nimport imaging.views\n",
            "imaging/views.py": "",
            # Production code imports test code.
            "consult/demo.py": "from tests.support import factories\nimport consult.testpeer\n",
            "consult/testpeer.py": "",
            # An import hidden in a function, with no reason given.
            "consult/cli.py": "def run():\n    import csv\n    return csv\n",
            # A cycle of three modules.
            "consult/a.py": "from consult import b\n",
            "consult/b.py": "from consult import c\n",
            "consult/c.py": "import consult.a\n",
        }
    )
    _tree(tmp_path, files)
    found = {(o.path, o.line, o.rule) for o in check(tmp_path)}
    assert found == {
        ("hub/permissions.py", 2, "the core imports a domain"),
        ("insurance/claims.py", 1, "a domain reaches into another"),
        ("insurance/claims.py", 2, "a domain reaches into another"),
        ("consult/demo.py", 1, "imports test code"),
        ("consult/demo.py", 2, "imports test code"),
        ("consult/cli.py", 2, "an import inside a function without a comment saying why"),
        ("consult/a.py", 1, "import cycle"),
    }
    cycle = next(o for o in check(tmp_path) if o.rule == "import cycle")
    for link in ("consult.a -> consult.b", "consult.b -> consult.c", "consult.c -> consult.a"):
        assert link in cycle.detail
