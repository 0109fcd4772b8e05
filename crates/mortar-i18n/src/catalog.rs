//! Fluent resources compiled into Mortar's resolved form.
//!
//! fluent-syntax parses `.ftl` files; the patterns are then compiled once into this small tree:
//! string literals unescaped, number literals parsed, plain messages reduced to one borrowed
//! string, and which placeables get bidi isolation decided up front. The resolver (`format.rs`)
//! walks it per call. We resolve ourselves rather than through fluent-bundle so that plural
//! categories come from ICU4X's CLDR data (fluent-bundle's `intl_pluralrules` ships older CLDR
//! rules), numbers and dates are formatted per locale (fluent-bundle prints numbers without
//! grouping and has no `DATETIME`), and plain lookups cost a hash probe.

use std::collections::HashMap;

use fluent_syntax::ast;
use fluent_syntax::parser;

use crate::error::{Error, ParseError};
use crate::value::Number;

pub(crate) type Map<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

/// A compiled pattern.
#[derive(Debug)]
pub(crate) enum Pattern {
    /// Text only: returned borrowed, no formatting at all.
    Text(Box<str>),
    /// Text and placeables.
    Parts(Box<[Part]>),
}

#[derive(Debug)]
pub(crate) enum Part {
    Text(Box<str>),
    /// A placeable; `isolate` wraps its output in FSI … PDI when isolation is on.
    Expr {
        expr: Expr,
        isolate: bool,
    },
}

#[derive(Debug)]
pub(crate) enum Expr {
    Str(Box<str>),
    Num(Number),
    Var(Box<str>),
    Message {
        id: Box<str>,
        attribute: Option<Box<str>>,
    },
    Term {
        id: Box<str>,
        attribute: Option<Box<str>>,
        args: Box<[(Box<str>, Expr)]>,
    },
    Function {
        name: Box<str>,
        positional: Box<[Expr]>,
        named: Box<[(Box<str>, Expr)]>,
    },
    Select {
        selector: Box<Expr>,
        variants: Box<[Variant]>,
        default: usize,
    },
}

#[derive(Debug)]
pub(crate) struct Variant {
    pub(crate) key: VariantKey,
    pub(crate) value: Pattern,
}

#[derive(Debug)]
pub(crate) enum VariantKey {
    Name(Box<str>),
    Number(f64),
}

/// A message or a term: an optional value and attributes.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) value: Option<Pattern>,
    pub(crate) attributes: Box<[(Box<str>, Pattern)]>,
}

impl Entry {
    /// The value, or the named attribute.
    pub(crate) fn pattern(&self, attribute: Option<&str>) -> Option<&Pattern> {
        match attribute {
            Some(name) => self.attribute(name),
            None => self.value.as_ref(),
        }
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&Pattern> {
        self.attributes
            .iter()
            .find_map(|(n, p)| (&**n == name).then_some(p))
    }
}

/// The messages and terms of one locale.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) messages: Map<Entry>,
    pub(crate) terms: Map<Entry>,
}

/// The names (messages, terms and their attributes) and variables of a resource, for the
/// completeness check.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// `id` or `id.attribute` → the variables its pattern uses, sorted.
    pub(crate) entries: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl Catalog {
    /// Parses `source` and adds its entries; an entry already present is replaced (later
    /// resources override earlier ones, so an app's catalog overrides Mortar's built-in one).
    #[cfg(test)]
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), Error> {
        self.add_with(name, source, None)
    }

    /// Like [`add`](Self::add), passing every text element through `transform` (the
    /// pseudo-locale).
    pub(crate) fn add_with(
        &mut self,
        name: &str,
        source: &str,
        transform: Option<&dyn Fn(&str) -> String>,
    ) -> Result<(), Error> {
        let resource = parse(name, source)?;
        for entry in resource.body {
            match entry {
                ast::Entry::Message(message) => {
                    let compiled = Entry {
                        value: message
                            .value
                            .as_ref()
                            .map(|p| compile_pattern(p, transform)),
                        attributes: compile_attributes(&message.attributes, transform),
                    };
                    self.messages.insert(message.id.name.into(), compiled);
                }
                ast::Entry::Term(term) => {
                    let compiled = Entry {
                        value: Some(compile_pattern(&term.value, transform)),
                        attributes: compile_attributes(&term.attributes, transform),
                    };
                    self.terms.insert(term.id.name.into(), compiled);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse<'s>(name: &str, source: &'s str) -> Result<ast::Resource<&'s str>, Error> {
    parser::parse(source).map_err(|(_, errors)| {
        Error::Parse(
            errors
                .into_iter()
                .map(|e| {
                    // The entry the error spoils (its first line), else the error's position.
                    let at = e.slice.as_ref().map_or(e.pos.start, |s| s.start);
                    ParseError::new(name, source, at, e.kind.to_string())
                })
                .collect(),
        )
    })
}

/// The names and variables of `source`, for comparing locales.
pub(crate) fn shape(name: &str, source: &str) -> Result<Shape, Error> {
    let resource = parse(name, source)?;
    let mut shape = Shape::default();
    for entry in &resource.body {
        let (prefix, value, attributes) = match entry {
            ast::Entry::Message(m) => (String::new(), m.value.as_ref(), &m.attributes),
            ast::Entry::Term(t) => (String::from("-"), Some(&t.value), &t.attributes),
            _ => continue,
        };
        let id = match entry {
            ast::Entry::Message(m) => m.id.name,
            ast::Entry::Term(t) => t.id.name,
            _ => continue,
        };
        let id = format!("{prefix}{id}");
        if let Some(value) = value {
            shape.entries.insert(id.clone(), variables(value));
        }
        for attribute in attributes {
            shape.entries.insert(
                format!("{id}.{}", attribute.id.name),
                variables(&attribute.value),
            );
        }
    }
    Ok(shape)
}

fn variables(pattern: &ast::Pattern<&str>) -> std::collections::BTreeSet<String> {
    fn inline(e: &ast::InlineExpression<&str>, out: &mut std::collections::BTreeSet<String>) {
        match e {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_owned());
            }
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for p in &arguments.positional {
                    inline(p, out);
                }
                for n in &arguments.named {
                    inline(&n.value, out);
                }
            }
            ast::InlineExpression::Placeable { expression } => expr(expression, out),
            _ => {}
        }
    }
    fn expr(e: &ast::Expression<&str>, out: &mut std::collections::BTreeSet<String>) {
        match e {
            ast::Expression::Inline(i) => inline(i, out),
            ast::Expression::Select { selector, variants } => {
                inline(selector, out);
                for v in variants {
                    pat(&v.value, out);
                }
            }
        }
    }
    fn pat(p: &ast::Pattern<&str>, out: &mut std::collections::BTreeSet<String>) {
        for element in &p.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                expr(expression, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    pat(pattern, &mut out);
    out
}

type Transform<'t> = Option<&'t dyn Fn(&str) -> String>;

fn compile_attributes(
    attributes: &[ast::Attribute<&str>],
    t: Transform<'_>,
) -> Box<[(Box<str>, Pattern)]> {
    attributes
        .iter()
        .map(|a| (a.id.name.into(), compile_pattern(&a.value, t)))
        .collect()
}

fn compile_pattern(pattern: &ast::Pattern<&str>, t: Transform<'_>) -> Pattern {
    let many = pattern.elements.len() > 1;
    let mut parts: Vec<Part> = Vec::with_capacity(pattern.elements.len());
    for element in &pattern.elements {
        match element {
            ast::PatternElement::TextElement { value } => {
                let transformed = t.map(|t| t(value));
                let value = transformed.as_deref().unwrap_or(value);
                // The parser may split text around line breaks; adjacent text is merged.
                if let Some(Part::Text(previous)) = parts.last_mut() {
                    let mut joined = String::from(&**previous);
                    joined.push_str(value);
                    *previous = joined.into();
                } else {
                    parts.push(Part::Text((*value).into()));
                }
            }
            ast::PatternElement::Placeable { expression } => {
                // As fluent-bundle does: a placeable that is the whole pattern, or that
                // inserts a message, a term or a string literal, is not isolated.
                let isolate = many
                    && !matches!(
                        expression,
                        ast::Expression::Inline(
                            ast::InlineExpression::MessageReference { .. }
                                | ast::InlineExpression::TermReference { .. }
                                | ast::InlineExpression::StringLiteral { .. }
                        )
                    );
                parts.push(Part::Expr {
                    expr: compile_expression(expression, t),
                    isolate,
                });
            }
        }
    }
    match parts.as_slice() {
        [] => Pattern::Text("".into()),
        [Part::Text(_)] => match parts.pop() {
            Some(Part::Text(text)) => Pattern::Text(text),
            _ => unreachable!("matched a single text part"),
        },
        _ => Pattern::Parts(parts.into_boxed_slice()),
    }
}

fn compile_expression(expression: &ast::Expression<&str>, t: Transform<'_>) -> Expr {
    match expression {
        ast::Expression::Inline(inline) => compile_inline(inline, t),
        ast::Expression::Select { selector, variants } => {
            let default = variants.iter().position(|v| v.default).unwrap_or(0);
            Expr::Select {
                selector: Box::new(compile_inline(selector, t)),
                variants: variants
                    .iter()
                    .map(|v| Variant {
                        key: match &v.key {
                            ast::VariantKey::Identifier { name } => {
                                VariantKey::Name((*name).into())
                            }
                            ast::VariantKey::NumberLiteral { value } => value.parse().map_or_else(
                                |_| VariantKey::Name((*value).into()),
                                VariantKey::Number,
                            ),
                        },
                        value: compile_pattern(&v.value, t),
                    })
                    .collect(),
                default,
            }
        }
    }
}

fn compile_inline(inline: &ast::InlineExpression<&str>, t: Transform<'_>) -> Expr {
    match inline {
        ast::InlineExpression::StringLiteral { value } => {
            Expr::Str(fluent_syntax::unicode::unescape_unicode_to_string(value).into())
        }
        ast::InlineExpression::NumberLiteral { value } => {
            Number::parse_literal(value).map_or_else(|| Expr::Str((*value).into()), Expr::Num)
        }
        ast::InlineExpression::FunctionReference { id, arguments } => Expr::Function {
            name: id.name.into(),
            positional: arguments
                .positional
                .iter()
                .map(|p| compile_inline(p, t))
                .collect(),
            named: compile_named(&arguments.named, t),
        },
        ast::InlineExpression::MessageReference { id, attribute } => Expr::Message {
            id: id.name.into(),
            attribute: attribute.as_ref().map(|a| a.name.into()),
        },
        ast::InlineExpression::TermReference {
            id,
            attribute,
            arguments,
        } => Expr::Term {
            id: id.name.into(),
            attribute: attribute.as_ref().map(|a| a.name.into()),
            // Terms take named arguments only; positional ones are ignored, as in Fluent.
            args: arguments
                .as_ref()
                .map(|a| compile_named(&a.named, t))
                .unwrap_or_default(),
        },
        ast::InlineExpression::VariableReference { id } => Expr::Var(id.name.into()),
        ast::InlineExpression::Placeable { expression } => compile_expression(expression, t),
    }
}

fn compile_named(named: &[ast::NamedArgument<&str>], t: Transform<'_>) -> Box<[(Box<str>, Expr)]> {
    named
        .iter()
        .map(|n| (n.name.name.into(), compile_inline(&n.value, t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages_compile_to_text() {
        let mut catalog = Catalog::default();
        catalog
            .add(
                "t.ftl",
                "hello = Hello, world!\nmulti =\n    one\n    two\n",
            )
            .unwrap();
        assert!(matches!(
            catalog.messages["hello"].value,
            Some(Pattern::Text(ref t)) if &**t == "Hello, world!"
        ));
        assert!(matches!(
            catalog.messages["multi"].value,
            Some(Pattern::Text(ref t)) if &**t == "one\ntwo"
        ));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Catalog::default()
            .add("bad.ftl", "ok = fine\nbroken = { $\n")
            .unwrap_err();
        assert!(err.to_string().contains("bad.ftl:2"), "{err}");
    }

    #[test]
    fn shape_lists_ids_and_variables() {
        let shape = shape(
            "t.ftl",
            "a = { $x } { $y ->\n *[o] { $z }\n}\n    .title = T { $w }\n-brand = B\n",
        )
        .unwrap();
        let keys: Vec<_> = shape.entries.keys().cloned().collect();
        assert_eq!(keys, ["-brand", "a", "a.title"]);
        assert_eq!(shape.entries["a"].len(), 3);
    }
}
