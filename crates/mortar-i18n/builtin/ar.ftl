### Mortar's built-in messages in Arabic (MSA): the titles of its problem documents and the texts of
### validation errors. An application's own catalog overrides any of them.
### Variables: problem messages see the problem's extension members (`$permission`,
### `$retry_after`…) and `$status`; validation messages see the rule's parameters and `$field`.

## Problems of type about:blank, by status.
problem-status-400 = طلب غير صالح
problem-status-401 = غير مصرح به
problem-status-403 = محظور
problem-status-404 = غير موجود
problem-status-405 = الطريقة غير مسموح بها
problem-status-406 = غير مقبول
problem-status-408 = انتهت مهلة الطلب
problem-status-409 = تعارض
problem-status-410 = لم يعد موجودًا
problem-status-413 = المحتوى كبير جدًا
problem-status-415 = نوع الوسائط غير مدعوم
problem-status-422 = محتوى غير قابل للمعالجة
problem-status-429 = طلبات كثيرة جدًا
problem-status-500 = خطأ داخلي في الخادم
problem-status-502 = بوابة غير صالحة
problem-status-503 = الخدمة غير متاحة
problem-status-504 = انتهت مهلة البوابة

## Mortar's own problem types (urn:mortar:problem:<slug>).
problem-validation = الطلب غير صالح.
problem-unauthenticated = المصادقة مطلوبة.
problem-invalid-credentials = بيانات الاعتماد غير صالحة.
problem-invalid-token = رمز الوصول غير صالح أو منتهي الصلاحية.
problem-token-expired = انتهت صلاحية الرمز.
problem-invalid-policy = لا يمكن استخدام هذا التغيير في السياسة.
problem-permission-denied = ليس لديك إذن بالقيام بذلك.
    .detail = يلزم الإذن «{ $permission }».
problem-weak-password = كلمة المرور لا تستوفي سياسة كلمات المرور.
problem-cross-origin-request = لم يصدر الطلب عن مصدر مسموح به.
problem-invalid-code = الرمز غير صالح أو منتهي الصلاحية.
problem-conflict = المورد موجود بالفعل.
problem-busy = الخدمة مشغولة؛ أعد المحاولة بعد قليل.
problem-storage-unavailable = الخدمة غير متاحة مؤقتًا.
problem-attempt-limiter-unavailable = الخدمة غير متاحة مؤقتًا.
problem-rate-limited = عدد الطلبات كبير جدًا؛ يُرجى الإبطاء.
    .detail = { $retry_after ->
        [zero] أعد المحاولة بعد { $retry_after } ثانية.
        [one] أعد المحاولة بعد ثانية واحدة.
        [two] أعد المحاولة بعد ثانيتين.
        [few] أعد المحاولة بعد { $retry_after } ثوانٍ.
        [many] أعد المحاولة بعد { $retry_after } ثانيةً.
       *[other] أعد المحاولة بعد { $retry_after } ثانية.
    }
problem-rate-limit-unavailable = لا تستطيع الخدمة التحقق من حدودها الآن؛ أعد المحاولة بعد قليل.
problem-too-many-concurrent-requests = عدد الطلبات المتزامنة كبير جدًا؛ انتظر حتى يكتمل أحدها.

## Validation rules (garde's rules and Mortar's password policy), by code.
validation-required = يجب تعيينه
validation-length-lower-than = { $min ->
    [zero] يجب أن يتكون من { $min } حرف على الأقل
    [one] يجب أن يتكون من حرف واحد على الأقل
    [two] يجب أن يتكون من حرفين على الأقل
    [few] يجب أن يتكون من { $min } أحرف على الأقل
    [many] يجب أن يتكون من { $min } حرفًا على الأقل
   *[other] يجب أن يتكون من { $min } حرف على الأقل
}
validation-length-greater-than = { $max ->
    [zero] يجب أن يتكون من { $max } حرف على الأكثر
    [one] يجب أن يتكون من حرف واحد على الأكثر
    [two] يجب أن يتكون من حرفين على الأكثر
    [few] يجب أن يتكون من { $max } أحرف على الأكثر
    [many] يجب أن يتكون من { $max } حرفًا على الأكثر
   *[other] يجب أن يتكون من { $max } حرف على الأكثر
}
validation-range-lower-than = يجب ألا يقل عن { $min }
validation-range-greater-than = يجب ألا يزيد على { $max }
validation-email = يجب أن يكون عنوان بريد إلكتروني
validation-nul = يجب ألا يحتوي على محرف NUL
validation-url = يجب أن يكون عنوان URL
validation-ip = يجب أن يكون عنوان IP
validation-phone-number = يجب أن يكون رقم هاتف
validation-credit-card = يجب أن يكون رقم بطاقة
validation-pattern = تنسيقه غير صحيح
validation-contains = يجب أن يحتوي على «{ $pattern }»
validation-prefix = يجب أن يبدأ بـ«{ $pattern }»
validation-suffix = يجب أن ينتهي بـ«{ $pattern }»
validation-matches = يجب أن يطابق { $other }
validation-ascii = يجب ألا يحتوي إلا على أحرف ASCII
validation-alphanumeric = يجب ألا يحتوي إلا على أحرف وأرقام
validation-too_short = { $min ->
    [zero] يجب أن يتكون من { $min } حرف على الأقل
    [one] يجب أن يتكون من حرف واحد على الأقل
    [two] يجب أن يتكون من حرفين على الأقل
    [few] يجب أن يتكون من { $min } أحرف على الأقل
    [many] يجب أن يتكون من { $min } حرفًا على الأقل
   *[other] يجب أن يتكون من { $min } حرف على الأقل
}
validation-too_long = { $max ->
    [zero] يجب أن يتكون من { $max } حرف على الأكثر
    [one] يجب أن يتكون من حرف واحد على الأكثر
    [two] يجب أن يتكون من حرفين على الأكثر
    [few] يجب أن يتكون من { $max } أحرف على الأكثر
    [many] يجب أن يتكون من { $max } حرفًا على الأكثر
   *[other] يجب أن يتكون من { $max } حرف على الأكثر
}
validation-common = شائع جدًا؛ اختر كلمة مرور يصعب توقعها
validation-guessable = سهل التخمين جدًا
validation-personal = يجب ألا يحتوي على اسمك أو عنوان بريدك الإلكتروني
