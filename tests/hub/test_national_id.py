"""National identity numbers with their check digits."""

from __future__ import annotations

import pytest

from hub.national_id import InvalidNationalId, make_iranian, normalise


def test_iranian_code() -> None:
    code = make_iranian("001234567")
    assert normalise("IR", code) == code
    assert normalise("ir", f"{code[:3]}-{code[3:]}") == code
    wrong = code[:9] + str((int(code[9]) + 1) % 10)
    with pytest.raises(InvalidNationalId, match="check digit"):
        normalise("IR", wrong)
    for bad in ("123", "11111111111", "1111111111", "abcdefghij"):
        with pytest.raises(InvalidNationalId):
            normalise("IR", bad)


def test_turkish_and_chinese_numbers() -> None:
    assert normalise("TR", "10000000146") == "10000000146"
    with pytest.raises(InvalidNationalId):
        normalise("TR", "10000000147")
    assert normalise("CN", "11010519491231002X") == "11010519491231002X"
    with pytest.raises(InvalidNationalId):
        normalise("CN", "110105194912310021")


def test_russian_snils() -> None:
    assert normalise("RU", "112-233-445 95") == "11223344595"
    with pytest.raises(InvalidNationalId, match="check"):
        normalise("RU", "112-233-445 96")


def test_unknown_country() -> None:
    with pytest.raises(InvalidNationalId, match="not supported"):
        normalise("XX", "123")
