### Mortar's built-in messages in German: the titles of its problem documents and the texts of
### validation errors. An application's own catalog overrides any of them.
### Variables: problem messages see the problem's extension members (`$permission`,
### `$retry_after`…) and `$status`; validation messages see the rule's parameters and `$field`.

## Problems of type about:blank, by status.
problem-status-400 = Ungültige Anfrage
problem-status-401 = Nicht autorisiert
problem-status-403 = Verboten
problem-status-404 = Nicht gefunden
problem-status-405 = Methode nicht erlaubt
problem-status-406 = Nicht annehmbar
problem-status-408 = Zeitüberschreitung der Anfrage
problem-status-409 = Konflikt
problem-status-410 = Nicht mehr verfügbar
problem-status-413 = Inhalt zu groß
problem-status-415 = Nicht unterstützter Medientyp
problem-status-422 = Nicht verarbeitbarer Inhalt
problem-status-429 = Zu viele Anfragen
problem-status-500 = Interner Serverfehler
problem-status-502 = Fehlerhaftes Gateway
problem-status-503 = Dienst nicht verfügbar
problem-status-504 = Gateway-Zeitüberschreitung

## Mortar's own problem types (urn:mortar:problem:<slug>).
problem-validation = Die Anfrage ist ungültig.
problem-unauthenticated = Eine Authentifizierung ist erforderlich.
problem-invalid-credentials = Die Anmeldedaten sind ungültig.
problem-invalid-token = Das Zugriffstoken ist ungültig oder abgelaufen.
problem-token-expired = Das Token ist abgelaufen.
problem-invalid-policy = Diese Richtlinienänderung kann nicht verwendet werden.
problem-permission-denied = Sie haben keine Berechtigung, dies zu tun.
    .detail = Die Berechtigung „{ $permission }“ ist erforderlich.
problem-weak-password = Das Passwort entspricht nicht der Passwortrichtlinie.
problem-cross-origin-request = Die Anfrage stammt nicht von einem zulässigen Ursprung.
problem-invalid-code = Der Code ist ungültig oder abgelaufen.
problem-conflict = Die Ressource existiert bereits.
problem-busy = Der Dienst ist ausgelastet; versuchen Sie es in Kürze erneut.
problem-storage-unavailable = Der Dienst ist vorübergehend nicht verfügbar.
problem-attempt-limiter-unavailable = Der Dienst ist vorübergehend nicht verfügbar.
problem-rate-limited = Zu viele Anfragen; bitte etwas langsamer.
    .detail = { $retry_after ->
        [one] Versuchen Sie es in einer Sekunde erneut.
       *[other] Versuchen Sie es in { $retry_after } Sekunden erneut.
    }
problem-rate-limit-unavailable = Der Dienst kann seine Limits gerade nicht prüfen; versuchen Sie es in Kürze erneut.
problem-too-many-concurrent-requests = Zu viele gleichzeitige Anfragen; warten Sie, bis eine davon abgeschlossen ist.

## Validation rules (garde's rules and Mortar's password policy), by code.
validation-required = muss gesetzt sein
validation-length-lower-than = { $min ->
    [one] muss mindestens ein Zeichen lang sein
   *[other] muss mindestens { $min } Zeichen lang sein
}
validation-length-greater-than = { $max ->
    [one] darf höchstens ein Zeichen lang sein
   *[other] darf höchstens { $max } Zeichen lang sein
}
validation-range-lower-than = muss mindestens { $min } sein
validation-range-greater-than = darf höchstens { $max } sein
validation-email = muss eine E-Mail-Adresse sein
validation-nul = darf kein NUL-Zeichen enthalten
validation-url = muss eine URL sein
validation-ip = muss eine IP-Adresse sein
validation-phone-number = muss eine Telefonnummer sein
validation-credit-card = muss eine Kartennummer sein
validation-pattern = hat das falsche Format
validation-contains = muss „{ $pattern }“ enthalten
validation-prefix = muss mit „{ $pattern }“ beginnen
validation-suffix = muss auf „{ $pattern }“ enden
validation-matches = muss mit { $other } übereinstimmen
validation-ascii = darf nur ASCII-Zeichen enthalten
validation-alphanumeric = darf nur Buchstaben und Ziffern enthalten
validation-too_short = { $min ->
    [one] muss mindestens ein Zeichen lang sein
   *[other] muss mindestens { $min } Zeichen lang sein
}
validation-too_long = { $max ->
    [one] darf höchstens ein Zeichen lang sein
   *[other] darf höchstens { $max } Zeichen lang sein
}
validation-common = ist zu gebräuchlich; wählen Sie ein weniger vorhersehbares Passwort
validation-guessable = ist zu leicht zu erraten
validation-personal = darf weder Ihren Namen noch Ihre E-Mail-Adresse enthalten
