# Translations legitimately mix scripts (Turkish dotless i, Cyrillic, CJK punctuation).
# ruff: noqa: RUF001
"""Wording of the imaging report in each language (see hub.documents.text for why documents
carry their own wording)."""

from __future__ import annotations

_LOCALES = ("en", "fa", "ru", "tr", "zh")
_ROWS: dict[str, tuple[str, str, str, str, str]] = {
    "report_title": (
        "Imaging report",
        "گزارش تصویربرداری",
        "Заключение по результатам визуализации",
        "Görüntüleme raporu",
        "影像诊断报告",
    ),
    "study": ("Study", "مطالعه", "Исследование", "Tetkik", "检查"),
    "study_date": ("Study date", "تاریخ مطالعه", "Дата исследования", "Tetkik tarihi", "检查日期"),
    "modalities": ("Modality", "روش تصویربرداری", "Модальность", "Modalite", "检查设备类型"),
    "description": ("Description", "شرح", "Описание", "Açıklama", "描述"),
    "accession": (
        "Accession number",
        "شماره پذیرش",
        "Номер направления",
        "Kabul numarası",
        "检查申请号",
    ),
    "sent_by": ("Sent by", "ارسال‌کننده", "Отправитель", "Gönderen", "发送机构"),
    "findings": ("Findings", "یافته‌ها", "Описание находок", "Bulgular", "影像所见"),
    "impression": ("Impression", "نتیجه‌گیری", "Заключение", "Sonuç", "诊断意见"),
    "critical": (
        "Critical finding: the sending facility was to be told at once.",
        "یافته بحرانی: مرکز ارسال‌کننده باید فوراً مطلع شود.",
        "Критическая находка: отправившее учреждение должно быть извещено немедленно.",
        "Kritik bulgu: gönderen kuruma hemen bildirilmelidir.",
        "危急值：应立即通知送检机构。",
    ),
    "radiologist": ("Radiologist", "رادیولوژیست", "Врач-рентгенолог", "Radyolog", "放射科医生"),
    "receiver": (
        "Received by (sending facility)",
        "دریافت‌کننده (مرکز ارسال‌کننده)",
        "Получил (направившее учреждение)",
        "Teslim alan (gönderen kurum)",
        "接收人（送检机构）",
    ),
    "amended_notice": (
        "Amended report: it replaces the version named below, which stays on file as signed.",
        "گزارش اصلاح‌شده: جایگزین نسخه‌ای است که در زیر آمده و "
        "آن نسخه همان‌طور که امضا شد نگهداری می‌شود.",
        "Исправленное заключение: оно заменяет указанную ниже версию, "
        "которая хранится в подписанном виде.",
        "Düzeltilmiş rapor: aşağıda belirtilen sürümün yerini alır; "
        "o sürüm imzalandığı haliyle saklanır.",
        "修订报告：它取代下列版本，原版本按签署时的原样保存。",
    ),
    "version": ("Version", "نسخه", "Версия", "Sürüm", "版本"),
    "replaces": (
        "Replaces version",
        "جایگزین نسخه",
        "Заменяет версию",
        "Yerini aldığı sürüm",
        "取代的版本",
    ),
    "replaced_signed": ("signed on", "امضاشده در", "подписана", "imza tarihi", "签署于"),
    "amendment_reason": (
        "Reason for the amendment",
        "دلیل اصلاح",
        "Причина исправления",
        "Düzeltme nedeni",
        "修订原因",
    ),
}

TEXT: dict[str, dict[str, str]] = {
    key: dict(zip(_LOCALES, row, strict=True)) for key, row in _ROWS.items()
}
