### The starter's messages. Mortar's built-in catalog already covers its problem titles and
### validation texts; these are the app's own. Keep de and ar in step: the starter's tests run
### the completeness check (every message, same variables) over this directory.

-app = Mortar SaaS

# GET /me: a greeting that counts the caller's organizations.
me-greeting = { $orgs ->
    [0] Welcome to { -app }! You are not in any organization yet.
    [one] Welcome to { -app }! You belong to one organization.
   *[other] Welcome to { -app }! You belong to { $orgs } organizations.
}

# Field errors of the organization endpoints.
validation-org-name = must be 1 to { $max } characters, without control characters
validation-org-role = must be one of owner, admin, member

# The last owner cannot leave or be demoted.
problem-last-owner = An organization keeps at least one owner.
    .detail = Add another owner first.

# Invitations: accepted too late, or claimed before verifying one's address.
problem-invitation-expired = This invitation has expired.
    .detail = Ask for a new one.
problem-email-unverified = Verify your e-mail address first.
    .detail = Invitations are addressed to verified addresses.
