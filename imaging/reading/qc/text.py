# Translations legitimately mix scripts (Turkish dotless i, Cyrillic, CJK punctuation).
# ruff: noqa: RUF001
"""Wording of the signed quarterly high-risk monitoring report in each language (documents keep
their own wording: see hub.documents.text)."""

from __future__ import annotations

_LOCALES = ("en", "fa", "ru", "tr", "zh")
_ROWS: dict[str, tuple[str, str, str, str, str]] = {
    "title": (
        "Quarterly high-risk monitoring report",
        "گزارش فصلی پایش عوامل پرخطر",
        "Ежеквартальный отчёт о мониторинге факторов высокого риска",
        "Üç aylık yüksek risk izleme raporu",
        "季度高风险监测报告",
    ),
    "quarter": ("Quarter", "فصل", "Квартал", "Çeyrek", "季度"),
    "region": ("Region", "منطقه", "Регион", "Bölge", "区域"),
    "all_regions": ("All regions", "همه مناطق", "Все регионы", "Tüm bölgeler", "全部区域"),
    "discordances": (
        "Discordant readings (missed or misdiagnosed)",
        "گزارش‌های ناهمخوان (از قلم افتاده یا تشخیص نادرست)",
        "Расхождения (пропущенные или ошибочные диагнозы)",
        "Uyumsuz okumalar (atlanan veya yanlış tanı)",
        "不符合病例（漏诊或误诊）",
    ),
    "critical_late": (
        "Critical results acknowledged late or never",
        "نتایج بحرانی که دیر یا هرگز تأیید نشدند",
        "Критические результаты, подтверждённые с опозданием или не подтверждённые",
        "Geç onaylanan veya hiç onaylanmayan kritik sonuçlar",
        "延迟确认或未确认的危急值",
    ),
    "category1": (
        "Category 1: time to acknowledge",
        "دسته ۱: زمان تا تأیید",
        "Категория 1: время до подтверждения",
        "Kategori 1: onaya kadar geçen süre",
        "1类：确认用时",
    ),
    "acknowledged": ("Acknowledged", "تأییدشده", "Подтверждено", "Onaylanan", "已确认"),
    "median": (
        "Median (minutes)",
        "میانه (دقیقه)",
        "Медиана (мин)",
        "Ortanca (dakika)",
        "中位数（分钟）",
    ),
    "p90": (
        "90th centile (minutes)",
        "صدک ۹۰ (دقیقه)",
        "90-й процентиль (мин)",
        "90. yüzdelik (dakika)",
        "第90百分位（分钟）",
    ),
    "registrations": (
        "Registrations entered late or edited after the report",
        "ثبت‌هایی که دیر وارد یا پس از گزارش ویرایش شدند",
        "Регистрации, внесённые поздно или изменённые после заключения",
        "Geç girilen veya rapordan sonra düzenlenen kayıtlar",
        "登记延迟或报告后被修改的病例",
    ),
    "request": (
        "Reading request",
        "درخواست خوانش",
        "Запрос на описание",
        "Okuma isteği",
        "阅片申请",
    ),
    "facility": ("Facility", "مرکز", "Учреждение", "Kurum", "机构"),
    "outcome": ("Outcome", "نتیجه", "Итог", "Sonuç", "结果"),
    "category": ("Category", "دسته", "Категория", "Kategori", "类别"),
    "minutes_late": (
        "Minutes late",
        "دقیقه تأخیر",
        "Опоздание (мин)",
        "Gecikme (dakika)",
        "延迟（分钟）",
    ),
    "reasons": ("Flag", "علامت", "Отметка", "İşaret", "标记"),
    "none": (
        "None in this quarter.",
        "در این فصل موردی نبود.",
        "В этом квартале нет.",
        "Bu çeyrekte yok.",
        "本季度无。",
    ),
    "no_data": ("no data", "بدون داده", "нет данных", "veri yok", "无数据"),
    "missed": ("missed", "از قلم افتاده", "пропущено", "atlandı", "漏诊"),
    "misdiagnosed": ("misdiagnosed", "تشخیص نادرست", "ошибочный диагноз", "yanlış tanı", "误诊"),
    "late": ("late", "با تأخیر", "с опозданием", "geç", "延迟"),
    "never": ("never", "هرگز", "не подтверждён", "hiç", "未确认"),
    "registered_late": (
        "registered late",
        "ثبت با تأخیر",
        "зарегистрирован поздно",
        "geç kaydedildi",
        "登记延迟",
    ),
    "edited_after_report": (
        "edited after the report",
        "ویرایش پس از گزارش",
        "изменён после заключения",
        "rapordan sonra düzenlendi",
        "报告后被修改",
    ),
    "qa_physician": (
        "QA physician",
        "پزشک کنترل کیفیت",
        "Врач по контролю качества",
        "Kalite güvence hekimi",
        "质控医师",
    ),
}

TEXT: dict[str, dict[str, str]] = {
    key: dict(zip(_LOCALES, row, strict=True)) for key, row in _ROWS.items()
}
