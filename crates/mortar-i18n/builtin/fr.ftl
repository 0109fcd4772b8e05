### Mortar's built-in messages in French: the titles of its problem documents and the texts of
### validation errors. An application's own catalog overrides any of them.
### Variables: problem messages see the problem's extension members (`$permission`,
### `$retry_after`…) and `$status`; validation messages see the rule's parameters and `$field`.

## Problems of type about:blank, by status.
problem-status-400 = Requête incorrecte
problem-status-401 = Non autorisé
problem-status-403 = Interdit
problem-status-404 = Non trouvé
problem-status-405 = Méthode non autorisée
problem-status-406 = Non acceptable
problem-status-408 = Délai d’attente de la requête dépassé
problem-status-409 = Conflit
problem-status-410 = Disparu
problem-status-413 = Contenu trop volumineux
problem-status-415 = Type de média non pris en charge
problem-status-422 = Contenu non traitable
problem-status-429 = Trop de requêtes
problem-status-500 = Erreur interne du serveur
problem-status-502 = Mauvaise passerelle
problem-status-503 = Service indisponible
problem-status-504 = Délai d’attente de la passerelle dépassé

## Mortar's own problem types (urn:mortar:problem:<slug>).
problem-validation = La requête n’est pas valide.
problem-unauthenticated = Une authentification est requise.
problem-invalid-credentials = Les identifiants ne sont pas valides.
problem-invalid-token = Le jeton d’accès est invalide ou a expiré.
problem-token-expired = Le jeton a expiré.
problem-invalid-policy = Cette modification de la politique ne peut pas être utilisée.
problem-permission-denied = Vous n’avez pas l’autorisation de faire cela.
    .detail = L’autorisation « { $permission } » est requise.
problem-weak-password = Le mot de passe ne respecte pas la politique de mots de passe.
problem-cross-origin-request = La requête ne provient pas d’une origine autorisée.
problem-invalid-code = Le code est invalide ou a expiré.
problem-conflict = La ressource existe déjà.
problem-busy = Le service est occupé ; réessayez dans un instant.
problem-storage-unavailable = Le service est temporairement indisponible.
problem-attempt-limiter-unavailable = Le service est temporairement indisponible.
problem-rate-limited = Trop de requêtes ; ralentissez.
    .detail = { $retry_after ->
        [one] Réessayez dans { $retry_after } seconde.
        [many] Réessayez dans { $retry_after } de secondes.
       *[other] Réessayez dans { $retry_after } secondes.
    }
problem-rate-limit-unavailable = Le service ne peut pas vérifier ses limites pour le moment ; réessayez dans un instant.
problem-too-many-concurrent-requests = Trop de requêtes simultanées ; attendez que l’une d’elles se termine.

## Validation rules (garde's rules and Mortar's password policy), by code.
validation-required = doit être renseigné
validation-length-lower-than = { $min ->
    [one] doit comporter au moins { $min } caractère
   *[other] doit comporter au moins { $min } caractères
}
validation-length-greater-than = { $max ->
    [one] doit comporter au plus { $max } caractère
   *[other] doit comporter au plus { $max } caractères
}
validation-range-lower-than = doit être supérieur ou égal à { $min }
validation-range-greater-than = doit être inférieur ou égal à { $max }
validation-email = doit être une adresse e-mail
validation-nul = ne doit pas contenir de caractère NUL
validation-url = doit être une URL
validation-ip = doit être une adresse IP
validation-phone-number = doit être un numéro de téléphone
validation-credit-card = doit être un numéro de carte
validation-pattern = n’a pas le bon format
validation-contains = doit contenir « { $pattern } »
validation-prefix = doit commencer par « { $pattern } »
validation-suffix = doit se terminer par « { $pattern } »
validation-matches = doit correspondre à { $other }
validation-ascii = ne doit contenir que des caractères ASCII
validation-alphanumeric = ne doit contenir que des lettres et des chiffres
validation-too_short = { $min ->
    [one] doit comporter au moins { $min } caractère
   *[other] doit comporter au moins { $min } caractères
}
validation-too_long = { $max ->
    [one] doit comporter au plus { $max } caractère
   *[other] doit comporter au plus { $max } caractères
}
validation-common = est trop courant ; choisissez un mot de passe moins prévisible
validation-guessable = est trop facile à deviner
validation-personal = ne doit contenir ni votre nom ni votre adresse e-mail
