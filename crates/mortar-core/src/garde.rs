//! `From<garde::Report>` for [`Problem`] (feature `garde`).

use crate::problem::{FieldError, Problem};

/// A garde validation report becomes a 422 problem of type `urn:mortar:problem:validation`
/// with one entry in `errors` per failed rule, each pointing at its field.
///
/// ```
/// use garde::Validate;
/// use mortar_core::Problem;
///
/// #[derive(Validate)]
/// struct SignUp {
///     #[garde(email)]
///     email: String,
///     #[garde(length(min = 8))]
///     password: String,
/// }
///
/// let report = SignUp { email: "nope".into(), password: "short".into() }.validate().unwrap_err();
/// let problem = Problem::from(report);
/// assert_eq!(problem.status(), 422);
/// let pointers: Vec<_> = problem.errors().iter().map(|e| e.pointer()).collect();
/// assert_eq!(pointers, ["#/email", "#/password"]);
/// ```
impl From<garde::Report> for Problem {
    fn from(report: garde::Report) -> Self {
        Problem::validation(
            report
                .iter()
                .map(|(path, error)| FieldError::new(path.to_string(), error.message())),
        )
    }
}

#[cfg(test)]
mod tests {
    use garde::Validate;

    use super::*;

    #[derive(Validate)]
    struct Item {
        #[garde(length(min = 2))]
        name: String,
    }

    #[derive(Validate)]
    struct Order {
        #[garde(dive)]
        items: Vec<Item>,
    }

    #[test]
    fn nested_paths_become_pointers() {
        let order = Order {
            items: vec![Item { name: "ok".into() }, Item { name: "x".into() }],
        };
        let problem = Problem::from(order.validate().unwrap_err());
        assert_eq!(problem.errors().len(), 1);
        assert_eq!(problem.errors()[0].pointer(), "#/items/1/name");
        assert!(!problem.errors()[0].detail().is_empty());
    }
}
