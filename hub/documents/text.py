# Translations legitimately mix scripts (Turkish dotless i, Cyrillic, CJK punctuation).
# ruff: noqa: RUF001
"""The wording the shared document layout prints, in each supported language.

Documents are legal records: their wording lives with the templates (one reviewed table per
document kind) rather than in the UI catalogues, so a UI translation change never alters what a
signed document says.
"""

from __future__ import annotations

from collections.abc import Mapping

LAYOUT: dict[str, dict[str, str]] = {
    # Who and what every document names, the same in every kind.
    "hub_name": {
        "en": "National Telemedicine Hub",
        "fa": "سامانه ملی پزشکی از راه دور",
        "ru": "Национальный центр телемедицины",
        "tr": "Ulusal Teletıp Merkezi",
        "zh": "国家远程医疗平台",
    },
    "patient": {
        "en": "Patient",
        "fa": "بیمار",
        "ru": "Пациент",
        "tr": "Hasta",
        "zh": "患者",
    },
    "name": {
        "en": "Name",
        "fa": "نام",
        "ru": "ФИО",
        "tr": "Ad soyad",
        "zh": "姓名",
    },
    "national_id": {
        "en": "National ID",
        "fa": "کد ملی",
        "ru": "Идентификационный номер",
        "tr": "Kimlik numarası",
        "zh": "身份证号",
    },
    "date_of_birth": {
        "en": "Date of birth",
        "fa": "تاریخ تولد",
        "ru": "Дата рождения",
        "tr": "Doğum tarihi",
        "zh": "出生日期",
    },
    "document_number": {
        "en": "Document",
        "fa": "شماره سند",
        "ru": "Документ",
        "tr": "Belge",
        "zh": "文件编号",
    },
    "issued": {
        "en": "Issued",
        "fa": "تاریخ صدور",
        "ru": "Выдан",
        "tr": "Düzenlenme",
        "zh": "签发时间",
    },
    "verify": {
        "en": "Verify this document",
        "fa": "اعتبارسنجی این سند",
        "ru": "Проверить документ",
        "tr": "Bu belgeyi doğrulayın",
        "zh": "验证本文件",
    },
    "verify_hint": {
        "en": "Scan the code or open the address to check the signatures.",
        "fa": "برای بررسی امضاها کد را اسکن کنید یا نشانی را باز کنید.",
        "ru": "Отсканируйте код или откройте адрес, чтобы проверить подписи.",
        "tr": "İmzaları denetlemek için kodu okutun veya adresi açın.",
        "zh": "扫描二维码或打开网址以核验签名。",
    },
    "signatures": {
        "en": "Signatures",
        "fa": "امضاها",
        "ru": "Подписи",
        "tr": "İmzalar",
        "zh": "签名",
    },
    "licence": {
        "en": "Licence",
        "fa": "شماره نظام",
        "ru": "Лицензия",
        "tr": "Lisans",
        "zh": "执业证号",
    },
    "signed_electronically": {
        "en": "Signed electronically (PAdES) under the hub's certification authority.",
        "fa": "امضای الکترونیکی (PAdES) با گواهی مرجع صدور گواهی سامانه.",
        "ru": "Подписано электронной подписью (PAdES) удостоверяющего центра системы.",
        "tr": "Sistemin sertifika otoritesi altında elektronik olarak imzalanmıştır (PAdES).",
        "zh": "已使用平台认证机构签发的证书进行电子签名（PAdES）。",
    },
    "draft": {
        "en": "DRAFT — NOT SIGNED",
        "fa": "پیش‌نویس — امضا نشده",
        "ru": "ЧЕРНОВИК — НЕ ПОДПИСАН",
        "tr": "TASLAK — İMZALANMADI",
        "zh": "草稿 — 未签名",
    },
    "attached_data": {
        "en": "The machine-readable data of this document is attached to the PDF.",
        "fa": "داده‌های ماشین‌خوان این سند به فایل PDF پیوست شده است.",
        "ru": "Машиночитаемые данные документа вложены в PDF.",
        "tr": "Bu belgenin makinece okunabilir verileri PDF'e eklenmiştir.",
        "zh": "本文件的机器可读数据已附在 PDF 中。",
    },
}


class Labels:
    """``labels.key`` in a template: the text in the document's language, English otherwise."""

    def __init__(self, locale: str, *tables: Mapping[str, Mapping[str, str]]) -> None:
        self._locale = locale
        self._tables = (LAYOUT, *tables)

    def __getattr__(self, key: str) -> str:
        for table in self._tables:
            entry = table.get(key)
            if entry is not None:
                return entry.get(self._locale) or entry["en"]
        raise AttributeError(key)

    def __getitem__(self, key: str) -> str:
        return str(getattr(self, key))
