//! The `OpenAPI` schema of [`Problem`] (feature `openapi`, utoipa 6).
//!
//! Written by hand because a problem's JSON is not its fields: [`Problem`] serializes `type`,
//! `title` and `status` always, `detail`, `instance`, `errors` and `retry_after` when set, and its
//! extension members beside them (RFC 9457 §3.2), so the schema allows additional properties.
//!
//! ```
//! use mortar_core::Problem;
//! use utoipa::{PartialSchema, ToSchema};
//!
//! assert_eq!(Problem::name(), "Problem");
//! let schema = serde_json::to_value(Problem::schema()).unwrap();
//! assert_eq!(schema["required"], serde_json::json!(["type", "title", "status"]));
//! assert_eq!(schema["additionalProperties"], true);
//! ```

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::problem::{ABOUT_BLANK, Problem};

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// An entry of `errors`: what [`FieldError`](crate::FieldError) serializes.
fn field_error() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some("What was wrong with one field of the request."))
        .property(
            "pointer",
            string(
                "The field, as a JSON pointer in URI-fragment form (`#/items/0/name`; `#` for \
                 the whole body).",
            )
            .examples(["#/email"]),
        )
        .required("pointer")
        .property("detail", string("What is wrong, for a person."))
        .required("detail")
        .property(
            "code",
            string("The rule that failed, a stable machine-readable name (`email`, `too_short`…).")
                .examples(["too_short"]),
        )
        .property(
            "params",
            ObjectBuilder::new()
                .description(Some(
                    "The rule's parameters (`min` of a length rule…), for clients that word the \
                     message themselves.",
                ))
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true))),
        )
}

/// `application/problem+json` (RFC 9457): `type`, `title` and `status` always; `detail`,
/// `instance`, Mortar's `errors` and `retry_after` when set; extension members beside them.
/// A 5xx problem carries only `type`, `title`, `status`, `instance` and `retry_after`.
impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "An RFC 9457 problem details document (`application/problem+json`). Extension \
                 members may appear beside the ones listed; a 5xx problem carries only `type`, \
                 `title`, `status`, `instance` and `retry_after`.",
            ))
            .property(
                "type",
                string(
                    "A URI reference identifying the problem type: `urn:mortar:problem:<slug>` \
                     for Mortar's own types, `about:blank` for a problem that is just its status.",
                )
                .format(Some(SchemaFormat::Custom("uri-reference".into())))
                .default(Some(json!(ABOUT_BLANK)))
                .examples(["urn:mortar:problem:validation"]),
            )
            .required("type")
            .property(
                "title",
                string(
                    "A short summary of the problem type, the same for every occurrence (the \
                     status's reason phrase for `about:blank`).",
                ),
            )
            .required("title")
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(100))
                    .maximum(Some(599))
                    .description(Some("The HTTP status code of this occurrence.")),
            )
            .required("status")
            .property(
                "detail",
                string("An explanation of this occurrence, for the client. Never on a 5xx."),
            )
            .property(
                "instance",
                string("A URI reference naming this occurrence.")
                    .format(Some(SchemaFormat::Custom("uri-reference".into()))),
            )
            .property(
                "errors",
                ArrayBuilder::new().items(field_error()).description(Some(
                    "Field-level errors (a 422 validation problem lists one per failed rule).",
                )),
            )
            .property(
                "retry_after",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .description(Some(
                        "Seconds to wait before trying again, as in the `Retry-After` header \
                         (a 429 or 503).",
                    )),
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
            .into()
    }
}

/// Named `Problem`: `#/components/schemas/Problem`.
impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::FieldError;

    fn schema() -> Value {
        serde_json::to_value(<Problem as PartialSchema>::schema()).unwrap()
    }

    /// Whether `value` has JSON type `ty` (`integer` being a number without a fraction).
    fn has_type(value: &Value, ty: &str) -> bool {
        match ty {
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            other => panic!("unexpected type {other}"),
        }
    }

    /// The few JSON Schema keywords the schema uses: `type`, `properties`, `required`,
    /// `items`, `additionalProperties`, `minimum`, `maximum`.
    fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
        if let Some(ty) = schema.get("type").and_then(Value::as_str)
            && !has_type(value, ty)
        {
            return Err(format!("{at}: {value} is not {ty}"));
        }
        if let Some(n) = value.as_f64() {
            let min = schema.get("minimum").and_then(Value::as_f64);
            let max = schema.get("maximum").and_then(Value::as_f64);
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(format!("{at}: {n} out of range"));
            }
        }
        if let Some(items) = schema.get("items") {
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                conforms(item, items, &format!("{at}/{i}"))?;
            }
        }
        let Some(object) = value.as_object() else {
            return Ok(());
        };
        let empty = Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: `{name}` missing"));
            }
        }
        for (name, member) in object {
            match properties.get(name) {
                Some(property) => conforms(member, property, &format!("{at}/{name}"))?,
                None if schema.get("additionalProperties") == Some(&json!(false)) => {
                    return Err(format!("{at}: `{name}` not allowed"));
                }
                None => {}
            }
        }
        Ok(())
    }

    #[test]
    fn named_problem_with_the_members_it_serializes() {
        assert_eq!(<Problem as ToSchema>::name(), "Problem");
        let schema = schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["type", "title", "status"]));
        assert_eq!(schema["additionalProperties"], true, "extension members");
        let properties = schema["properties"].as_object().unwrap();
        let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "detail",
                "errors",
                "instance",
                "retry_after",
                "status",
                "title",
                "type"
            ]
        );
        let error = &properties["errors"]["items"];
        assert_eq!(error["required"], json!(["pointer", "detail"]));
        for property in properties.values() {
            assert!(property["description"].is_string(), "{property}");
        }
    }

    #[test]
    fn real_problems_conform() {
        let schema = schema();
        let problems = [
            Problem::not_found(),
            Problem::validation([
                FieldError::new("/password", "too short")
                    .with_code("too_short")
                    .with_param("min", 12),
                FieldError::new("", "not JSON"),
            ])
            .with_instance("/requests/1"),
            Problem::too_many_requests(Duration::from_millis(1_500)).with_detail("slow down"),
            Problem::new(StatusCode::CONFLICT)
                .with_type("https://example.com/problems/out-of-credit")
                .with_extension("balance", 30)
                .with_extension("accounts", json!(["/account/1"])),
            Problem::internal_error().with_detail("hidden"),
            Problem::service_unavailable().with_retry_after(Duration::from_secs(30)),
        ];
        for problem in problems {
            let json: Value = serde_json::from_slice(&problem.to_json()).unwrap();
            conforms(&json, &schema, "#").unwrap_or_else(|e| panic!("{json}: {e}"));
        }
        // And the checker does check.
        let wrong = json!({"type": "about:blank", "title": "x", "status": "404"});
        assert!(conforms(&wrong, &schema, "#").is_err());
        let missing = json!({"type": "about:blank", "status": 404});
        assert!(conforms(&missing, &schema, "#").is_err());
        let bad_error =
            json!({"type": "x", "title": "x", "status": 422, "errors": [{"detail": "x"}]});
        assert!(conforms(&bad_error, &schema, "#").is_err());
    }
}
