### Die Meldungen des Starters (siehe en/main.ftl).

-app = Mortar SaaS

me-greeting = { $orgs ->
    [0] Willkommen bei { -app }! Sie gehören noch keiner Organisation an.
    [one] Willkommen bei { -app }! Sie gehören einer Organisation an.
   *[other] Willkommen bei { -app }! Sie gehören { $orgs } Organisationen an.
}

validation-org-name = muss 1 bis { $max } Zeichen lang sein, ohne Steuerzeichen
validation-org-role = muss owner, admin oder member sein

problem-last-owner = Eine Organisation behält mindestens einen Eigentümer.
    .detail = Fügen Sie zuerst einen weiteren Eigentümer hinzu.

problem-invitation-expired = Diese Einladung ist abgelaufen.
    .detail = Bitten Sie um eine neue.
problem-email-unverified = Bestätigen Sie zuerst Ihre E-Mail-Adresse.
    .detail = Einladungen gelten bestätigten Adressen.
