//! CEL conditions: compiled once when the policy is indexed, evaluated only when a rule that
//! carries one would decide.

use std::cell::OnceCell;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use cel::{Context, Program};
use mortar_core::{Principal, PrincipalKind};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::resource::Resource;

/// A compiled condition and its text (for `explain` and errors).
pub(crate) struct Condition {
    program: Program,
    text: Arc<str>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// A variable converted to CEL, or why it could not be.
type Converted = Result<cel::Value, String>;

/// What a condition sees; `subject`, `resource` and `context` are converted to CEL values
/// once per check, when a condition first needs them, however many conditions read them.
pub(crate) struct Vars<'a> {
    principal: &'a Principal,
    /// The tenant the principal acts in (its own, or the one the request names).
    tenant: Option<&'a str>,
    resource: &'a Resource,
    context: &'a Map<String, Value>,
    now: SystemTime,
    subject_value: OnceCell<Converted>,
    resource_value: OnceCell<Converted>,
    context_value: OnceCell<Converted>,
}

/// A JSON value as CEL sees it.
fn to_cel(value: &Value) -> Converted {
    cel::to_value(value).map_err(|e| e.to_string())
}

impl<'a> Vars<'a> {
    pub(crate) fn new(
        principal: &'a Principal,
        tenant: Option<&'a str>,
        resource: &'a Resource,
        context: &'a Map<String, Value>,
        now: SystemTime,
    ) -> Self {
        Self {
            principal,
            tenant,
            resource,
            context,
            now,
            subject_value: OnceCell::new(),
            resource_value: OnceCell::new(),
            context_value: OnceCell::new(),
        }
    }
}

thread_local! {
    // The standard library and our functions, built once per thread: a check's variables go
    // into a child scope of it.
    static ROOT: Context<'static, 'static> = root();
}

fn root() -> Context<'static, 'static> {
    let mut context = Context::default();
    // `ip_in(context.ip, "10.0.0.0/8")`: CEL has no address type; a malformed address or
    // network is simply not contained.
    let _ = context.add_function("ip_in", |ip: Arc<String>, network: Arc<String>| {
        let (Ok(ip), Ok(network)) = (ip.parse::<IpAddr>(), network.parse::<ipnet::IpNet>()) else {
            return false;
        };
        network.contains(&ip)
    });
    context
}

impl Condition {
    pub(crate) fn compile(text: &str) -> Result<Self, Error> {
        let program = Program::compile(text).map_err(|e| Error::Condition {
            source_text: text.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            program,
            text: Arc::from(text),
        })
    }

    pub(crate) fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// `Ok(true)` only when the expression evaluates to the boolean `true`; a missing attribute,
    /// a type error or a non-boolean result is an `Err` with the interpreter's message. Never
    /// panics on any input.
    pub(crate) fn holds(&self, vars: &Vars<'_>) -> Result<bool, String> {
        ROOT.with(|root| {
            let mut context = root.new_inner_scope();
            let subject = vars
                .subject_value
                .get_or_init(|| to_cel(&subject(vars.principal, vars.tenant)));
            let resource = vars
                .resource_value
                .get_or_init(|| to_cel(&resource(vars.resource)));
            let request = vars
                .context_value
                .get_or_init(|| cel::to_value(vars.context).map_err(|e| e.to_string()));
            // The JSON → CEL conversion happened once above; cel still builds each scope's
            // own variables from these values (it takes them by value).
            context.add_variable_from_value("subject", subject.clone()?);
            context.add_variable_from_value("resource", resource.clone()?);
            context.add_variable_from_value("context", request.clone()?);
            let now: chrono::DateTime<chrono::Utc> = vars.now.into();
            context.add_variable_from_value("now", cel::Value::Timestamp(now.fixed_offset()));
            match self.program.execute(&context) {
                Ok(cel::Value::Bool(b)) => Ok(b),
                Ok(other) => Err(format!("the condition gave {other:?}, not a boolean")),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::ServiceAccount => "service_account",
        PrincipalKind::ApiKey => "api_key",
        _ => "anonymous",
    }
}

/// `subject`: the principal's attributes, then its fixed fields (which win over attributes of
/// the same name).
fn subject(p: &Principal, tenant: Option<&str>) -> Value {
    let mut map: Map<String, Value> = p
        .attributes()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    map.insert("id".into(), p.subject().into());
    map.insert("kind".into(), kind_name(p.kind()).into());
    map.insert("tenant".into(), tenant.map_or(Value::Null, Value::from));
    map.insert("roles".into(), p.roles().collect::<Vec<_>>().into());
    map.insert("scopes".into(), p.scopes().collect::<Vec<_>>().into());
    Value::Object(map)
}

/// `resource`: its attributes, then kind, id and tenant.
fn resource(r: &Resource) -> Value {
    let mut map = r.attributes.clone();
    map.insert("kind".into(), r.kind.as_str().into());
    map.insert(
        "id".into(),
        r.id.as_deref().map_or(Value::Null, Value::from),
    );
    map.insert(
        "tenant".into(),
        r.tenant.as_deref().map_or(Value::Null, Value::from),
    );
    Value::Object(map)
}
