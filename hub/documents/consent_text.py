# Translations legitimately mix scripts (Turkish dotless i, Cyrillic, CJK punctuation).
# ruff: noqa: RUF001
"""Wording of the telemedicine consent form in each language (see hub.documents.text for why
documents carry their own wording)."""

from __future__ import annotations

_LOCALES = ("en", "fa", "ru", "tr", "zh")
_ROWS: dict[str, tuple[str, str, str, str, str]] = {
    "consent_title": (
        "Telemedicine consent form",
        "فرم رضایت‌نامه پزشکی از راه دور",
        "Информированное согласие на телемедицинские услуги",
        "Teletıp onam formu",
        "远程医疗知情同意书",
    ),
    "consent": ("Consent", "رضایت", "Согласие", "Onam", "同意事项"),
    "scope": ("Covers", "موضوع", "Предмет", "Kapsam", "范围"),
    "scope_consult": (
        "Remote consultation: my health information is sent to a specialist who advises the "
        "health worker treating me.",
        "مشاوره از راه دور: اطلاعات سلامت من برای پزشک متخصص ارسال می‌شود تا به کارکنان سلامت "
        "درمان‌کننده من مشاوره دهد.",
        "Дистанционная консультация: мои медицинские данные передаются специалисту, который "
        "консультирует лечащего меня медработника.",
        "Uzaktan konsültasyon: sağlık bilgilerim, beni tedavi eden sağlık çalışanına danışmanlık "
        "veren bir uzmana gönderilir.",
        "远程会诊：我的健康信息将发送给专科医生，由其为给我诊治的医务人员提供会诊意见。",
    ),
    "scope_video": (
        "Video consultation: I take part in a live audio and video session with a specialist.",
        "مشاوره تصویری: در جلسه زنده صوتی و تصویری با پزشک متخصص شرکت می‌کنم.",
        "Видеоконсультация: я участвую в сеансе аудио- и видеосвязи со специалистом.",
        "Görüntülü konsültasyon: bir uzmanla canlı sesli ve görüntülü görüşmeye katılırım.",
        "视频会诊：我将与专科医生进行实时音视频会诊。",
    ),
    "scope_recording": (
        "Recording: the video consultation is recorded and kept with my health record for the "
        "period the law requires.",
        "ضبط: مشاوره تصویری ضبط می‌شود و تا مدتی که قانون تعیین کرده همراه پرونده سلامت من "
        "نگهداری می‌شود.",
        "Запись: видеоконсультация записывается и хранится в моей медицинской документации в "
        "течение установленного законом срока.",
        "Kayıt: görüntülü konsültasyon kaydedilir ve yasanın öngördüğü süre boyunca sağlık "
        "kaydımla birlikte saklanır.",
        "录制：视频会诊将被录制，并按法定期限与我的健康档案一并保存。",
    ),
    "scope_data_sharing": (
        "Data sharing: my images and records are exchanged with other facilities that treat me.",
        "اشتراک داده: تصاویر و سوابق من با سایر مراکز درمانی که مرا درمان می‌کنند مبادله می‌شود.",
        "Обмен данными: мои снимки и документы передаются другим учреждениям, которые меня лечат.",
        "Veri paylaşımı: görüntülerim ve kayıtlarım beni tedavi eden diğer kurumlarla paylaşılır.",
        "数据共享：我的影像和病历将与为我诊治的其他医疗机构交换。",
    ),
    "statement": (
        "The patient (or the person named below on the patient's behalf) was informed of the "
        "purpose, benefits and limits of telemedicine, may refuse without losing care, and may "
        "withdraw this consent at any time.",
        "بیمار (یا فرد نام‌برده در زیر از طرف بیمار) از هدف، مزایا و محدودیت‌های پزشکی از راه دور "
        "آگاه شد، می‌تواند بدون از دست دادن خدمات درمانی آن را نپذیرد و هر زمان رضایت خود را پس "
        "بگیرد.",
        "Пациент (или указанное ниже лицо от его имени) проинформирован о целях, преимуществах и "
        "ограничениях телемедицины, может отказаться без ущерба для лечения и отозвать согласие в "
        "любое время.",
        "Hasta (veya aşağıda adı geçen, hasta adına hareket eden kişi) teletıbbın amacı, yararları "
        "ve sınırları hakkında bilgilendirilmiştir; bakımını kaybetmeden reddedebilir ve bu onamı "
        "istediği zaman geri çekebilir.",
        "患者（或下列代表患者的人）已被告知远程医疗的目的、益处和局限，可拒绝而不影响诊治，"
        "并可随时撤回本同意。",
    ),
    "given_by": ("Given by", "رضایت‌دهنده", "Согласие дал(а)", "Onamı veren", "同意人"),
    "relationship": ("Relationship", "نسبت", "Отношение к пациенту", "Yakınlık", "与患者关系"),
    "relationship_self": (
        "The patient",
        "خود بیمار",
        "Сам пациент",
        "Hastanın kendisi",
        "患者本人",
    ),
    "method": ("How given", "نحوه اعلام", "Форма", "Veriliş şekli", "同意方式"),
    "method_written": ("In writing", "کتبی", "Письменно", "Yazılı", "书面"),
    "method_verbal": ("Verbally", "شفاهی", "Устно", "Sözlü", "口头"),
    "method_electronic": ("Electronically", "الکترونیکی", "Электронно", "Elektronik", "电子"),
    "given_at": ("Given", "زمان", "Дата", "Tarih", "同意时间"),
    "witness": (
        "Recorded and witnessed by",
        "ثبت و گواهی توسط",
        "Зарегистрировал(а) и засвидетельствовал(а)",
        "Kaydeden ve tanıklık eden",
        "记录及见证人",
    ),
}

TEXT: dict[str, dict[str, str]] = {
    key: dict(zip(_LOCALES, row, strict=True)) for key, row in _ROWS.items()
}
