//! Per-field validation errors, collected so a response lists every invalid
//! field at once.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`name`, `organization.name`).
    pub field: String,
    /// A stable, machine-readable reason: `required`, `too_short`, `too_long`,
    /// `invalid`, `invalid_type`, `reserved`, `taken`, `unknown`, ...
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Collects field errors while a request is turned into domain values.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value if it parsed, records the error otherwise.
    pub fn check<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Parses an optional value: absent stays absent.
    pub fn check_opt<T, U>(
        &mut self,
        v: Option<T>,
        f: impl FnOnce(T) -> Result<U, FieldError>,
    ) -> Option<U> {
        v.and_then(|v| self.check(f(v)))
    }

    /// A required value, checked with the others (so its absence is listed
    /// with every other invalid field): `None` records `field: required`.
    pub fn required<T>(&mut self, field: &str, v: Option<T>) -> Option<T> {
        if v.is_none() {
            self.push(FieldError::new(field, "required", "is required"));
        }
        v
    }

    pub fn push(&mut self, e: FieldError) {
        self.errors.push(e);
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Err(Error::Validation)` if anything failed.
    pub fn finish(self) -> Result<(), super::Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(super::Error::Validation(self.errors))
        }
    }
}

/// True for C0/C1 control characters (tabs and newlines included).
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Trims, then checks a length range in characters and the absence of
/// control characters.
pub fn text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let s = raw.trim();
    let n = s.chars().count();
    if has_control_chars(s) {
        return Err(FieldError::new(
            field,
            "invalid",
            "must not contain control characters",
        ));
    }
    if n < min {
        return Err(if n == 0 {
            FieldError::new(field, "required", "must not be empty")
        } else {
            FieldError::new(
                field,
                "too_short",
                format!("must be at least {min} characters"),
            )
        });
    }
    if n > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    Ok(s.to_owned())
}
