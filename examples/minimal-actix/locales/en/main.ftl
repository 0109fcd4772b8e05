### The example's own messages. Mortar's built-in catalog already covers its problem titles
### (401, 403, 404, 429, validation…) in English and German; keep de/main.ftl in step.

# GET /reports
reports-title = Quarterly reports
reports-summary = { $count ->
    [one] One report is available.
   *[other] { $count } reports are available.
}
