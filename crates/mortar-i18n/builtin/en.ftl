### Mortar's built-in messages: the titles of its problem documents and the texts of
### validation errors. An application's own catalog overrides any of them.
### Variables: problem messages see the problem's extension members (`$permission`,
### `$retry_after`…) and `$status`; validation messages see the rule's parameters and `$field`.

## Problems of type about:blank, by status.
problem-status-400 = Bad Request
problem-status-401 = Unauthorized
problem-status-403 = Forbidden
problem-status-404 = Not Found
problem-status-405 = Method Not Allowed
problem-status-406 = Not Acceptable
problem-status-408 = Request Timeout
problem-status-409 = Conflict
problem-status-410 = Gone
problem-status-413 = Content Too Large
problem-status-415 = Unsupported Media Type
problem-status-422 = Unprocessable Content
problem-status-429 = Too Many Requests
problem-status-500 = Internal Server Error
problem-status-502 = Bad Gateway
problem-status-503 = Service Unavailable
problem-status-504 = Gateway Timeout

## Mortar's own problem types (urn:mortar:problem:<slug>).
problem-validation = The request is not valid.
problem-unauthenticated = Authentication is required.
problem-invalid-credentials = The credentials are not valid.
problem-invalid-token = The access token is invalid or has expired.
problem-token-expired = The token has expired.
problem-invalid-policy = The policy change cannot be used.
problem-permission-denied = You do not have permission to do this.
    .detail = The permission “{ $permission }” is required.
problem-weak-password = The password does not meet the password policy.
problem-cross-origin-request = The request did not come from an allowed origin.
problem-invalid-code = The code is invalid or has expired.
problem-conflict = The resource already exists.
problem-busy = The service is busy; try again shortly.
problem-storage-unavailable = The service is temporarily unavailable.
problem-attempt-limiter-unavailable = The service is temporarily unavailable.
problem-rate-limited = Too many requests; slow down.
    .detail = { $retry_after ->
        [one] Try again in one second.
       *[other] Try again in { $retry_after } seconds.
    }
problem-rate-limit-unavailable = The service cannot check its limits right now; try again shortly.
problem-too-many-concurrent-requests = Too many requests at once; wait for one to finish.

## Validation rules (garde's rules and Mortar's password policy), by code.
validation-required = must be set
validation-length-lower-than = { $min ->
    [one] must be at least one character long
   *[other] must be at least { $min } characters long
}
validation-length-greater-than = { $max ->
    [one] must be at most one character long
   *[other] must be at most { $max } characters long
}
validation-range-lower-than = must be at least { $min }
validation-range-greater-than = must be at most { $max }
validation-email = must be an e-mail address
validation-nul = must not contain a NUL character
validation-url = must be a URL
validation-ip = must be an IP address
validation-phone-number = must be a phone number
validation-credit-card = must be a card number
validation-pattern = has the wrong format
validation-contains = must contain “{ $pattern }”
validation-prefix = must begin with “{ $pattern }”
validation-suffix = must end with “{ $pattern }”
validation-matches = must match { $other }
validation-ascii = must contain only ASCII characters
validation-alphanumeric = must contain only letters and digits
validation-too_short = { $min ->
    [one] must be at least one character long
   *[other] must be at least { $min } characters long
}
validation-too_long = { $max ->
    [one] must be at most one character long
   *[other] must be at most { $max } characters long
}
validation-common = is too common; choose a less predictable password
validation-guessable = is too easy to guess
validation-personal = must not contain your name or e-mail address
