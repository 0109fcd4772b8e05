//! The API's OpenAPI 3.1 document, generated from the code (utoipa: each handler's
//! `#[utoipa::path]`, each body's `ToSchema`, mortar-auth's endpoints from its `openapi`
//! feature), served at `GET /openapi.json`, with an interactive page at `/docs` (Swagger UI,
//! its assets compiled into the binary: it works with no internet access).
//!
//! Every error answer is an RFC 9457 problem document (`application/problem+json`, schema
//! `Problem`); besides the errors each operation lists, every route may answer 401 (credentials
//! sent and not valid, or none where a caller is needed) and 500, and every API route 429 (rate
//! limited): the document says so for each operation (added here, from the layers that produce
//! them).
//!
//! `example-saas-axum openapi` prints the document (for client generators, schemathesis…).

use axum::Router;
use mortar::core::Problem;
use utoipa::OpenApi as _;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// The starter's own operations (mortar-auth's are merged in by [`document`]).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Mortar SaaS starter",
        description = "Accounts, organizations with roles and invitations, avatars, feature flags and an audit log: the API of the Mortar starter (examples/saas-axum). Errors are RFC 9457 problem documents in the caller's language (Accept-Language: en, de, ar).",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        crate::routes::health::health,
        crate::routes::health::ready,
        crate::metrics::metrics,
        crate::routes::me,
        crate::orgs::list,
        crate::orgs::create,
        crate::orgs::show,
        crate::orgs::rename,
        crate::orgs::remove,
        crate::orgs::members,
        crate::orgs::add_member,
        crate::orgs::remove_member,
        crate::invitations::create,
        crate::invitations::list,
        crate::invitations::withdraw,
        crate::invitations::mine,
        crate::invitations::accept,
        crate::invitations::decline,
        crate::sso::show,
        crate::sso::put,
        crate::sso::remove,
        crate::audit::audit_log,
        crate::avatars::upload,
        crate::avatars::show,
        crate::avatars::remove,
        crate::avatars::status,
        crate::avatars::files,
        crate::flags::beta_reports,
        crate::flags::pricing,
    ),
    components(schemas(Problem)),
    tags(
        (name = "operations", description = "Probes and metrics"),
        (name = "account", description = "The signed-in caller"),
        (name = "organizations", description = "Organizations, members and roles, SSO, the audit log"),
        (name = "invitations", description = "Inviting by e-mail address; accepting with a verified address"),
        (name = "avatars", description = "Validated uploads, thumbnails made by a job, presigned links"),
        (name = "flags", description = "A flag-gated beta route and an A/B test"),
    )
)]
struct StarterApi;

/// Routes that answer without the rate limit and without a caller.
const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The whole document: the starter's operations, mortar-auth's under `/auth`, the security
/// schemes, and the problem answers every operation may give.
pub fn document() -> OpenApi {
    let mut doc = StarterApi::openapi();
    for auth in auth_documents() {
        doc = doc.nest("/auth", auth);
    }
    // mortar-auth's schemes (bearer JWT, API key, the session cookie under its default name, as
    // the starter uses it) come with its nested documents; the metrics token besides.
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "metrics_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("MORTAR_METRICS_TOKEN"))
                .build(),
        ),
    );
    for (path, item) in &mut doc.paths.paths {
        let probe = PROBES.contains(&path.as_str());
        for operation in operations(item) {
            add_common_problems(operation, probe);
        }
    }
    doc
}

/// mortar-auth's endpoints, each document relative to `/auth`.
fn auth_documents() -> Vec<OpenApi> {
    use mortar::auth::axum::openapi as auth;
    vec![
        auth::accounts(),
        auth::second_factors(),
        auth::federation(),
        auth::passkeys(),
    ]
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

/// The answers the layers give on every route: 500 anywhere; 401 for credentials that are not
/// valid (or missing, where a caller is required); 400 for a query string that does not parse;
/// 429 from the rate limit on the API; 400 / 415 / 422 for a JSON body that does not parse.
fn add_common_problems(operation: &mut Operation, probe: bool) {
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    };
    add("500", "An internal error (details are only logged)");
    let secured = operation.security.as_ref().is_some_and(|reqs| {
        !reqs.is_empty() && reqs.iter().all(|r| *r != SecurityRequirement::default())
    });
    // Every route sits behind the authentication layer: credentials that are sent must be
    // valid, even where none are needed.
    add(
        "401",
        if secured {
            "No valid token, API key or session cookie"
        } else {
            "Credentials were sent and are not valid (send none to call this anonymously)"
        },
    );
    let has_query = operation.parameters.as_ref().is_some_and(|params| {
        params
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query))
    });
    if has_query {
        add(
            "400",
            "The query string does not parse, or holds a NUL character",
        );
    }
    if probe {
        return;
    }
    add(
        "429",
        "Rate limited: see `Retry-After` and the `RateLimit` headers",
    );
    if let Some(RefOr::T(body)) = &operation.request_body
        && body.content.contains_key("application/json")
    {
        add("400", "The body is not valid JSON");
        add("415", "The body is not `application/json`");
        add(
            "422",
            "A field is missing or has the wrong type (`errors` names it)",
        );
    }
}

/// The document as pretty-printed JSON.
pub fn json() -> String {
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| unreachable!("the document serializes: {e}"))
}

/// `GET /openapi.json` and the interactive page at `/docs`.
pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", document()))
}
