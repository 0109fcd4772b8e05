### Mortar's built-in messages in Spanish: the titles of its problem documents and the texts of
### validation errors. An application's own catalog overrides any of them.
### Variables: problem messages see the problem's extension members (`$permission`,
### `$retry_after`…) and `$status`; validation messages see the rule's parameters and `$field`.

## Problems of type about:blank, by status.
problem-status-400 = Solicitud incorrecta
problem-status-401 = No autorizado
problem-status-403 = Prohibido
problem-status-404 = No encontrado
problem-status-405 = Método no permitido
problem-status-406 = No aceptable
problem-status-408 = Tiempo de espera de la solicitud agotado
problem-status-409 = Conflicto
problem-status-410 = Ya no disponible
problem-status-413 = Contenido demasiado grande
problem-status-415 = Tipo de medio no admitido
problem-status-422 = Contenido no procesable
problem-status-429 = Demasiadas solicitudes
problem-status-500 = Error interno del servidor
problem-status-502 = Puerta de enlace incorrecta
problem-status-503 = Servicio no disponible
problem-status-504 = Tiempo de espera de la puerta de enlace agotado

## Mortar's own problem types (urn:mortar:problem:<slug>).
problem-validation = La solicitud no es válida.
problem-unauthenticated = Se requiere autenticación.
problem-invalid-credentials = Las credenciales no son válidas.
problem-invalid-token = El token de acceso no es válido o ha caducado.
problem-token-expired = El token ha caducado.
problem-invalid-policy = Este cambio de la política no se puede usar.
problem-permission-denied = No tiene permiso para hacer esto.
    .detail = Se requiere el permiso «{ $permission }».
problem-weak-password = La contraseña no cumple la política de contraseñas.
problem-cross-origin-request = La solicitud no procede de un origen permitido.
problem-invalid-code = El código no es válido o ha caducado.
problem-conflict = El recurso ya existe.
problem-busy = El servicio está ocupado; vuelva a intentarlo en breve.
problem-storage-unavailable = El servicio no está disponible temporalmente.
problem-attempt-limiter-unavailable = El servicio no está disponible temporalmente.
problem-rate-limited = Demasiadas solicitudes; reduzca el ritmo.
    .detail = { $retry_after ->
        [one] Vuelva a intentarlo en un segundo.
       *[other] Vuelva a intentarlo en { $retry_after } segundos.
    }
problem-rate-limit-unavailable = El servicio no puede comprobar sus límites en este momento; vuelva a intentarlo en breve.
problem-too-many-concurrent-requests = Demasiadas solicitudes simultáneas; espere a que termine alguna.

## Validation rules (garde's rules and Mortar's password policy), by code.
validation-required = debe indicarse
validation-length-lower-than = { $min ->
    [one] debe tener al menos un carácter
   *[other] debe tener al menos { $min } caracteres
}
validation-length-greater-than = { $max ->
    [one] debe tener como máximo un carácter
   *[other] debe tener como máximo { $max } caracteres
}
validation-range-lower-than = debe ser mayor o igual que { $min }
validation-range-greater-than = debe ser menor o igual que { $max }
validation-email = debe ser una dirección de correo electrónico
validation-nul = no debe contener un carácter NUL
validation-url = debe ser una URL
validation-ip = debe ser una dirección IP
validation-phone-number = debe ser un número de teléfono
validation-credit-card = debe ser un número de tarjeta
validation-pattern = tiene un formato incorrecto
validation-contains = debe contener «{ $pattern }»
validation-prefix = debe empezar por «{ $pattern }»
validation-suffix = debe terminar en «{ $pattern }»
validation-matches = debe coincidir con { $other }
validation-ascii = solo puede contener caracteres ASCII
validation-alphanumeric = solo puede contener letras y dígitos
validation-too_short = { $min ->
    [one] debe tener al menos un carácter
   *[other] debe tener al menos { $min } caracteres
}
validation-too_long = { $max ->
    [one] debe tener como máximo un carácter
   *[other] debe tener como máximo { $max } caracteres
}
validation-common = es demasiado común; elija una contraseña menos predecible
validation-guessable = es demasiado fácil de adivinar
validation-personal = no debe contener su nombre ni su dirección de correo electrónico
