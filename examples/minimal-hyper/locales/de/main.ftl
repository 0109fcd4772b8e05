### Die Meldungen des Beispiels (siehe en/main.ftl).

reports-title = Quartalsberichte
reports-summary = { $count ->
    [one] Ein Bericht ist verfügbar.
   *[other] { $count } Berichte sind verfügbar.
}
