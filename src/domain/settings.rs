//! Workspace settings (SPEC §7): the known keys, their types, allowed values
//! and defaults. One rule, used by the settings routes and by workspace
//! create and update. Other keys are kept as given.

use serde_json::{json, Map, Value};

use super::validation::FieldError;

/// What a known key accepts.
enum Kind {
    /// One of these strings.
    OneOf(&'static [&'static str]),
    Bool,
    /// A string (1-200 characters) or null.
    NullableString,
    Object,
}

struct Known {
    key: &'static str,
    kind: Kind,
    default: fn() -> Value,
}

const KNOWN: &[Known] = &[
    Known {
        key: "theme",
        kind: Kind::OneOf(&["light", "dark", "system"]),
        default: || json!("system"),
    },
    Known {
        key: "todo_block_ids_enabled",
        kind: Kind::Bool,
        default: || json!(true),
    },
    Known {
        key: "default_response_mode",
        kind: Kind::OneOf(&["streaming", "conversational"]),
        default: || json!("streaming"),
    },
    Known {
        key: "default_engagement_mode",
        kind: Kind::OneOf(&["always", "mention", "keyword", "autonomous"]),
        default: || json!("mention"),
    },
    Known {
        key: "today_pinned_note_id",
        kind: Kind::NullableString,
        default: || Value::Null,
    },
    Known {
        key: "default_project_id",
        kind: Kind::NullableString,
        default: || Value::Null,
    },
    Known {
        key: "notifications",
        kind: Kind::Object,
        default: || json!({}),
    },
];

/// The key naming a project of the same workspace; the store checks it.
pub const DEFAULT_PROJECT_ID: &str = "default_project_id";
pub const TODAY_PINNED_NOTE_ID: &str = "today_pinned_note_id";

/// Checks the known keys of a settings document (types and allowed values)
/// and its size. Errors name `settings.<key>`. Whether
/// `default_project_id` names a project of the workspace needs the database:
/// see `store::settings::check_settings`.
pub fn validate(doc: &Map<String, Value>) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    for k in KNOWN {
        let Some(v) = doc.get(k.key) else { continue };
        let field = format!("settings.{}", k.key);
        let err = match &k.kind {
            Kind::OneOf(allowed) => match v.as_str() {
                Some(s) if allowed.contains(&s) => None,
                _ => Some(FieldError::new(
                    field,
                    "invalid",
                    format!("must be one of {}", allowed.join(", ")),
                )),
            },
            Kind::Bool => (!v.is_boolean())
                .then(|| FieldError::new(field, "invalid_type", "must be true or false")),
            Kind::NullableString => match v {
                Value::Null => None,
                Value::String(s) if note_id_ok(s) => None,
                Value::String(_) => Some(FieldError::new(
                    field,
                    "invalid",
                    "must be 1-200 characters without control characters",
                )),
                _ => Some(FieldError::new(
                    field,
                    "invalid_type",
                    "must be a string or null",
                )),
            },
            Kind::Object => (!v.is_object())
                .then(|| FieldError::new(field, "invalid_type", "must be an object")),
        };
        errors.extend(err);
    }
    if let Err(e) = super::json::check_size("settings", doc) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn note_id_ok(s: &str) -> bool {
    let n = s.chars().count();
    (1..=200).contains(&n) && !s.chars().any(char::is_control)
}

/// A pinned note id as `PUT .../today-pin` takes it.
pub fn note_id(v: Option<String>) -> Result<Option<String>, FieldError> {
    match v {
        None => Ok(None),
        Some(s) if note_id_ok(&s) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(
            "note_id",
            "invalid",
            "must be 1-200 characters without control characters",
        )),
    }
}

/// The document as `GET .../settings` shows it: every known key, its
/// default filled in where absent, plus the custom keys.
pub fn with_defaults(doc: &Map<String, Value>) -> Map<String, Value> {
    let mut out = doc.clone();
    for k in KNOWN {
        out.entry(k.key).or_insert_with(k.default);
    }
    out
}

/// The project a settings document names as default, if any.
pub fn default_project(doc: &Map<String, Value>) -> Option<&str> {
    doc.get(DEFAULT_PROJECT_ID).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn known_keys_are_checked_and_custom_keys_kept() {
        assert!(validate(&doc(
            json!({"theme": "dark", "x": [1], "notifications": {}})
        ))
        .is_ok());
        let errs = validate(&doc(
            json!({"theme": "blue", "todo_block_ids_enabled": "yes",
            "default_project_id": 3, "notifications": []}),
        ))
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.theme",
                "settings.todo_block_ids_enabled",
                "settings.default_project_id",
                "settings.notifications"
            ]
        );
    }

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let d = with_defaults(&doc(json!({"theme": "dark", "custom": 1})));
        assert_eq!(d["theme"], "dark");
        assert_eq!(d["todo_block_ids_enabled"], true);
        assert_eq!(d["default_engagement_mode"], "mention");
        assert_eq!(d["default_project_id"], Value::Null);
        assert_eq!(d["custom"], 1);
    }
}
