//! Problem documents in the client's language.

use std::borrow::Cow;

use mortar_core::Problem;
use serde_json::Value as Json;

use crate::i18n::Locale;
use crate::value::{Args, Number, Value};

impl Locale {
    /// Renders a problem's title (and `detail`, where the catalog has a `.detail` attribute)
    /// and each field error that names its rule (`code`) in this locale. What the catalog does
    /// not cover is left as it was.
    ///
    /// The message for a problem is `problem-<slug>` for Mortar's types
    /// (`urn:mortar:problem:<slug>`), `problem-status-<code>` for `about:blank`, or the one
    /// registered with [`I18nBuilder::problem_type`](crate::I18nBuilder::problem_type). Its
    /// variables are the problem's extension members (numbers and strings) and `$status`. A field
    /// error uses `validation-<code>` with the rule's parameters and `$field`.
    ///
    /// ```
    /// use mortar_core::{FieldError, Problem};
    /// use mortar_i18n::I18n;
    ///
    /// let i18n = I18n::builder().add_ftl("de", "").build()?;
    /// let problem = Problem::validation([
    ///     FieldError::new("/name", "length is lower than 3").with_code("length-lower-than").with_param("min", 3),
    /// ]);
    /// let problem = i18n.locale("de").localize_problem(problem);
    /// assert_eq!(problem.title(), "Die Anfrage ist ungültig.");
    /// assert_eq!(problem.errors()[0].detail(), "muss mindestens 3 Zeichen lang sein");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn localize_problem(&self, problem: Problem) -> Problem {
        let Some(id) = self.problem_message(problem.type_uri(), problem.status().as_u16()) else {
            return self.localize_errors(problem);
        };
        let (title, detail) = {
            let mut args = member_args(problem.extensions().iter());
            if let Some(after) = problem.retry_after() {
                args.set("retry_after", after);
            }
            args.set("status", problem.status().as_u16());
            self.problem_texts(&id, &args)
        };
        let mut problem = problem;
        if let Some(title) = title {
            problem = problem.with_title(title);
        }
        if let Some(detail) = detail {
            problem = problem.with_detail(detail);
        }
        self.localize_errors(problem)
    }

    fn localize_errors(&self, mut problem: Problem) -> Problem {
        for error in problem.errors_mut() {
            if let Some(text) =
                self.field_error_text(error.code(), error.pointer(), error.params().iter())
            {
                error.set_detail(text);
            }
        }
        problem
    }

    /// The localized text of one field error, if the catalog has its rule.
    fn field_error_text<'p>(
        &self,
        code: Option<&str>,
        pointer: &str,
        params: impl Iterator<Item = (&'p String, &'p Json)>,
    ) -> Option<String> {
        let id = format!("validation-{}", code?);
        let mut args = member_args(params);
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        args.set("field", field.replace("~1", "/").replace("~0", "~"));
        self.try_format(&id, None, Some(&args)).map(Cow::into_owned)
    }

    /// Localizes a serialized problem document, as the layers do with `application/problem+json`
    /// response bodies (for other transports: a message queue, a WebSocket frame). `None` when
    /// the body is not a JSON object or the catalog changes nothing.
    ///
    /// ```
    /// # let i18n = mortar_i18n::I18n::builder().add_ftl("de", "").build()?;
    /// let body = br#"{"type":"about:blank","title":"Not Found","status":404}"#;
    /// let localized = i18n.locale("de").localize_problem_body(body).unwrap();
    /// let doc: serde_json::Value = serde_json::from_slice(&localized).unwrap();
    /// assert_eq!(doc["title"], "Nicht gefunden");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn localize_problem_body(&self, body: &[u8]) -> Option<Vec<u8>> {
        let Json::Object(mut doc) = serde_json::from_slice::<Json>(body).ok()? else {
            return None;
        };
        let type_uri = doc
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("about:blank");
        let status = doc
            .get("status")
            .and_then(Json::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        let mut changed = false;
        if let Some(id) = self.problem_message(type_uri, status) {
            let (title, detail) = {
                let args = member_args(doc.iter().filter(|(name, _)| {
                    !matches!(
                        name.as_str(),
                        "type" | "title" | "detail" | "instance" | "errors"
                    )
                }));
                self.problem_texts(&id, &args)
            };
            if let Some(title) = title {
                doc.insert("title".into(), Json::String(title));
                changed = true;
            }
            if let Some(detail) = detail {
                doc.insert("detail".into(), Json::String(detail));
                changed = true;
            }
        }
        if let Some(Json::Array(errors)) = doc.get_mut("errors") {
            for error in errors.iter_mut().filter_map(Json::as_object_mut) {
                let code = error.get("code").and_then(Json::as_str);
                let pointer = error.get("pointer").and_then(Json::as_str).unwrap_or("#");
                let empty = serde_json::Map::new();
                let params = error
                    .get("params")
                    .and_then(Json::as_object)
                    .unwrap_or(&empty);
                if let Some(text) = self.field_error_text(code, pointer, params.iter()) {
                    error.insert("detail".into(), Json::String(text));
                    changed = true;
                }
            }
        }
        if !changed {
            return None;
        }
        serde_json::to_vec(&doc).ok()
    }
}

impl Locale {
    /// The localized title (the message's value) and detail (its `.detail`) of a problem.
    fn problem_texts(&self, id: &str, args: &Args<'_>) -> (Option<String>, Option<String>) {
        (
            self.try_format(id, None, Some(args)).map(Cow::into_owned),
            self.try_format(id, Some("detail"), Some(args))
                .map(Cow::into_owned),
        )
    }
}

/// JSON members (extension members, rule parameters) as message arguments.
fn member_args<'j>(members: impl Iterator<Item = (&'j String, &'j Json)>) -> Args<'j> {
    let mut args = Args::new();
    for (name, value) in members {
        if let Some(value) = arg(value) {
            args.set(name.as_str(), value);
        }
    }
    args
}

/// A JSON member as a message argument: strings and numbers only.
fn arg(value: &Json) -> Option<Value<'_>> {
    match value {
        Json::String(s) => Some(Value::from(s.as_str())),
        Json::Number(n) => n
            .as_i64()
            .map(Number::from)
            .or_else(|| n.as_f64().map(Number::from))
            .map(Value::Number),
        _ => None,
    }
}
