# Translations legitimately mix scripts (Turkish dotless i, Cyrillic, CJK punctuation).
# ruff: noqa: RUF001
"""Wording of the consult outcome and the e-prescription in each language (see hub.documents.text
for why documents carry their own wording)."""

from __future__ import annotations

_LOCALES = ("en", "fa", "ru", "tr", "zh")
_ROWS: dict[str, tuple[str, str, str, str, str]] = {
    "outcome_title": (
        "Specialist consultation outcome",
        "نتیجه مشاوره تخصصی",
        "Заключение консультации специалиста",
        "Uzman konsültasyon sonucu",
        "专科会诊结论",
    ),
    "prescription_title": (
        "Electronic prescription",
        "نسخه الکترونیکی",
        "Электронный рецепт",
        "Elektronik reçete",
        "电子处方",
    ),
    "referral_title": (
        "Referral letter",
        "نامه ارجاع",
        "Направление",
        "Sevk mektubu",
        "转诊单",
    ),
    "referral": ("Referral", "ارجاع", "Направление", "Sevk", "转诊"),
    "referred_to": ("Referred to", "ارجاع به", "Направлен к", "Sevk edilen", "转诊至"),
    "referred_to_value": (
        "Specialist care, level 2 or 3 — {specialty}",
        "خدمات تخصصی سطح ۲ یا ۳ — {specialty}",
        "Специализированная помощь 2-го или 3-го уровня — {specialty}",
        "2. veya 3. basamak uzman hizmeti — {specialty}",
        "二级或三级专科医疗 — {specialty}",
    ),
    "referral_kind": ("Type", "نوع", "Вид", "Tür", "类型"),
    "referral_reason": (
        "Reason for referral",
        "علت ارجاع",
        "Причина направления",
        "Sevk nedeni",
        "转诊原因",
    ),
    "referral_note": (
        "Please return a written answer (back-referral) to the requesting health worker.",
        "لطفاً پاسخ کتبی (پس‌خوراند) را برای درخواست‌کننده ارسال کنید.",
        "Просим направить письменный ответ (обратное направление) запросившему медработнику.",
        "Lütfen isteyen sağlık çalışanına yazılı yanıt (geri bildirim) gönderin.",
        "请将书面回复（回转单）发回申请医务人员。",
    ),
    "consult_number": ("Consultation", "شماره مشاوره", "Консультация", "Konsültasyon", "会诊编号"),
    "sex": ("Sex", "جنس", "Пол", "Cinsiyet", "性别"),
    "sex_female": ("Female", "زن", "Женский", "Kadın", "女"),
    "sex_male": ("Male", "مرد", "Мужской", "Erkek", "男"),
    "sex_other": ("Other", "سایر", "Другой", "Diğer", "其他"),
    "sex_unknown": ("Unknown", "نامشخص", "Не указан", "Bilinmiyor", "未知"),
    "request": ("Request", "درخواست", "Запрос", "İstek", "会诊申请"),
    "requested_at": ("Requested", "زمان درخواست", "Дата запроса", "İstek zamanı", "申请时间"),
    "requester": (
        "Requesting health worker",
        "درخواست‌کننده",
        "Запросивший медработник",
        "İsteyen sağlık çalışanı",
        "申请医务人员",
    ),
    "consultant": ("Consultant", "پزشک مشاور", "Консультант", "Konsültan", "会诊医生"),
    "prescriber": (
        "Prescriber",
        "پزشک تجویزکننده",
        "Врач, выписавший рецепт",
        "Reçeteyi yazan",
        "开方医生",
    ),
    "specialty": ("Specialty", "تخصص", "Специальность", "Uzmanlık", "专科"),
    "urgency": ("Urgency", "فوریت", "Срочность", "Aciliyet", "紧急程度"),
    "urgency_emergency": ("Emergency", "اورژانسی", "Экстренная", "Acil", "急诊"),
    "urgency_urgent": ("Urgent", "فوری", "Срочная", "İvedi", "紧急"),
    "urgency_routine": ("Routine", "عادی", "Плановая", "Rutin", "常规"),
    "mode": ("Mode", "روش", "Формат", "Yöntem", "方式"),
    "mode_async": (
        "Written (asynchronous)",
        "نوشتاری (غیرهمزمان)",
        "Письменная (асинхронная)",
        "Yazılı (eşzamansız)",
        "书面（异步）",
    ),
    "mode_video": ("Video", "تصویری", "Видео", "Görüntülü", "视频"),
    "mode_phone": ("Telephone", "تلفنی", "Телефон", "Telefon", "电话"),
    "question": ("Question", "پرسش", "Вопрос", "Soru", "会诊问题"),
    "history": ("History", "شرح حال", "Анамнез", "Öykü", "病史"),
    "vitals": (
        "Vital signs",
        "علائم حیاتی",
        "Показатели жизнедеятельности",
        "Yaşam bulguları",
        "生命体征",
    ),
    "assessment": ("Assessment", "ارزیابی", "Оценка", "Değerlendirme", "评估"),
    "recommendation": ("Recommendation", "توصیه", "Рекомендации", "Öneri", "建议"),
    "disposition": ("Disposition", "تصمیم", "Решение", "Karar", "处置"),
    "disposition_manage_locally": (
        "Manage locally",
        "درمان در محل",
        "Лечение на месте",
        "Yerinde tedavi",
        "本地处理",
    ),
    "disposition_refer": ("Refer", "ارجاع", "Направить", "Sevk", "转诊"),
    "disposition_transfer_urgently": (
        "Transfer urgently",
        "انتقال فوری",
        "Срочный перевод",
        "Acil nakil",
        "紧急转运",
    ),
    "disposition_follow_up": ("Follow up", "پیگیری", "Наблюдение", "Takip", "随访"),
    "prescription": ("Prescription", "نسخه", "Назначения", "Reçete", "处方"),
    "medicine": ("Medicine", "دارو", "Препарат", "İlaç", "药品"),
    "dose": ("Dose", "دوز", "Доза", "Doz", "剂量"),
    "route": ("Route", "راه مصرف", "Путь введения", "Uygulama yolu", "途径"),
    "frequency": ("Frequency", "دفعات", "Кратность", "Sıklık", "频次"),
    "duration_days": ("Days", "روز", "Дней", "Gün", "天数"),
    "notes": ("Notes", "توضیحات", "Примечания", "Notlar", "备注"),
    "follow_up": (
        "Follow-up tasks",
        "اقدامات پیگیری",
        "Задачи наблюдения",
        "Takip görevleri",
        "随访任务",
    ),
    "due": ("Due", "موعد", "Срок", "Son tarih", "截止"),
}

TEXT: dict[str, dict[str, str]] = {
    key: dict(zip(_LOCALES, row, strict=True)) for key, row in _ROWS.items()
}

VITAL_NAMES: dict[str, str] = {
    "temperature_c": "T °C",
    "heart_rate": "HR /min",
    "respiratory_rate": "RR /min",
    "systolic_bp": "SBP mmHg",
    "diastolic_bp": "DBP mmHg",
    "spo2": "SpO₂ %",
    "weight_kg": "kg",
    "glucose_mmol_l": "Glucose mmol/L",
}
