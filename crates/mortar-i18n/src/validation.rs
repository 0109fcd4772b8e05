//! garde validation in the request's language (feature `garde`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Display;

use ::garde::i18n::{InvalidCreditCard, InvalidEmail, InvalidPhoneNumber, InvalidUrl};
use ::garde::rules::ip::IpKind;
use mortar_core::{FieldError, Problem};

use crate::i18n::Locale;
use crate::value::{Args, Value};

/// One rule failure as garde reported it: the localized message, the rule's code and its
/// parameters (kept so the problem's field errors carry `code` and `params`).
struct Failure {
    message: String,
    code: &'static str,
    params: Vec<(&'static str, serde_json::Value)>,
}

/// garde's message hook, answered from the catalog (`validation-<code>`).
struct Messages<'a> {
    locale: &'a Locale,
    failures: RefCell<Vec<Failure>>,
}

impl Messages<'_> {
    fn say(
        &self,
        code: &'static str,
        params: Vec<(&'static str, serde_json::Value)>,
    ) -> Cow<'static, str> {
        let mut args = Args::new();
        for (name, value) in &params {
            match value {
                serde_json::Value::Number(n) => {
                    if let Some(n) = n.as_f64() {
                        args.set(*name, n);
                    }
                }
                serde_json::Value::String(s) => args.set(*name, Value::from(s.clone())),
                _ => {}
            }
        }
        let message = self
            .locale
            .format(&format!("validation-{code}"), &args)
            .into_owned();
        self.failures.borrow_mut().push(Failure {
            message: message.clone(),
            code,
            params,
        });
        Cow::Owned(message)
    }
}

fn text(value: &dyn Display) -> serde_json::Value {
    serde_json::Value::String(value.to_string())
}

impl ::garde::i18n::I18n for Messages<'_> {
    fn length_lower_than(&self, min: usize) -> Cow<'static, str> {
        self.say("length-lower-than", vec![("min", min.into())])
    }
    fn length_greater_than(&self, max: usize) -> Cow<'static, str> {
        self.say("length-greater-than", vec![("max", max.into())])
    }
    fn range_lower_than(&self, min: &dyn Display) -> Cow<'static, str> {
        self.say("range-lower-than", vec![("min", number_or_text(min))])
    }
    fn range_greater_than(&self, max: &dyn Display) -> Cow<'static, str> {
        self.say("range-greater-than", vec![("max", number_or_text(max))])
    }
    fn credit_card_invalid(&self, _reason: InvalidCreditCard) -> Cow<'static, str> {
        self.say("credit-card", Vec::new())
    }
    fn pattern_no_match(&self, pattern: &dyn Display) -> Cow<'static, str> {
        self.say("pattern", vec![("pattern", text(pattern))])
    }
    fn contains_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        self.say("contains", vec![("pattern", text(pattern))])
    }
    fn url_invalid(&self, _reason: InvalidUrl) -> Cow<'static, str> {
        self.say("url", Vec::new())
    }
    fn prefix_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        self.say("prefix", vec![("pattern", text(pattern))])
    }
    fn suffix_missing(&self, pattern: &dyn Display) -> Cow<'static, str> {
        self.say("suffix", vec![("pattern", text(pattern))])
    }
    fn phone_number_invalid(&self, _reason: InvalidPhoneNumber) -> Cow<'static, str> {
        self.say("phone-number", Vec::new())
    }
    fn ip_invalid(&self, kind: IpKind) -> Cow<'static, str> {
        self.say("ip", vec![("kind", text(&kind))])
    }
    fn matches_field_mismatch(&self, field: &dyn Display) -> Cow<'static, str> {
        self.say("matches", vec![("other", text(field))])
    }
    fn email_invalid(&self, _reason: InvalidEmail) -> Cow<'static, str> {
        self.say("email", Vec::new())
    }
    fn ascii_invalid(&self) -> Cow<'static, str> {
        self.say("ascii", Vec::new())
    }
    fn alphanumeric_invalid(&self) -> Cow<'static, str> {
        self.say("alphanumeric", Vec::new())
    }
    fn required_not_set(&self) -> Cow<'static, str> {
        self.say("required", Vec::new())
    }
}

fn number_or_text(value: &dyn Display) -> serde_json::Value {
    let s = value.to_string();
    s.parse::<i64>()
        .map(serde_json::Value::from)
        .or_else(|_| s.parse::<f64>().map(serde_json::Value::from))
        .unwrap_or(serde_json::Value::String(s))
}

impl Locale {
    /// Validates with garde, its messages in this locale: `Err` is a 422 problem of type
    /// `urn:mortar:problem:validation` whose title and field errors are localized, each field
    /// error carrying the rule's `code` and `params` for clients that word messages themselves.
    /// A custom rule's message is kept as the rule wrote it.
    ///
    /// ```
    /// use ::garde::Validate;
    /// use mortar_i18n::I18n;
    ///
    /// #[derive(Validate)]
    /// struct SignUp {
    ///     #[garde(length(min = 3))]
    ///     name: String,
    /// }
    ///
    /// let i18n = I18n::builder().add_ftl("de", "").build()?;
    /// let problem = i18n.locale("de").validate(&SignUp { name: "x".into() }).unwrap_err();
    /// assert_eq!(problem.status(), 422);
    /// assert_eq!(problem.errors()[0].pointer(), "#/name");
    /// assert_eq!(problem.errors()[0].detail(), "muss mindestens 3 Zeichen lang sein");
    /// assert_eq!(problem.errors()[0].code(), Some("length-lower-than"));
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The validation problem, when any rule fails.
    #[allow(
        clippy::result_large_err,
        reason = "Problem is the HTTP edge's error type"
    )]
    pub fn validate<T>(&self, value: &T) -> Result<(), Problem>
    where
        T: ::garde::Validate + ?Sized,
        T::Context: Default,
    {
        let messages = Messages {
            locale: self,
            failures: RefCell::new(Vec::new()),
        };
        let result = ::garde::i18n::with_i18n(&messages, || value.validate());
        let Err(report) = result else {
            return Ok(());
        };
        let mut failures = messages.failures.into_inner();
        let errors = report.iter().map(|(path, error)| {
            let mut field = FieldError::new(path.to_string(), error.message());
            // Failures come in the order garde reports them; match by message to pair each
            // report entry with its rule (a custom rule has no entry and keeps its text).
            if let Some(i) = failures.iter().position(|f| f.message == error.message()) {
                let failure = failures.remove(i);
                field = field.with_code(failure.code);
                for (name, value) in failure.params {
                    field = field.with_param(name, value);
                }
            }
            field
        });
        let problem = Problem::validation(errors);
        Err(self.localize_problem(problem))
    }
}
