//! JSON documents (`settings`, `metadata`, `onboarding`): size limits and
//! JSON Merge Patch (RFC 7396).

use serde_json::{Map, Value};

use super::validation::FieldError;

/// `settings` and `metadata` may not exceed this once serialized.
pub const MAX_DOC_BYTES: usize = 16 * 1024;

/// Request bodies may not nest deeper than this.
pub const MAX_DEPTH: usize = 32;

/// Applies `patch` to `target` as RFC 7396 describes: objects merge
/// recursively, `null` removes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("just made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// A JSON object within the size limit.
pub fn object(field: &str, v: Value) -> Result<Map<String, Value>, FieldError> {
    let Value::Object(map) = v else {
        return Err(FieldError::new(field, "invalid_type", "must be an object"));
    };
    check_size(field, &map)?;
    Ok(map)
}

pub fn check_size(field: &str, map: &Map<String, Value>) -> Result<(), FieldError> {
    let len = serde_json::to_vec(map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if len > MAX_DOC_BYTES {
        return Err(FieldError::new(
            field,
            "too_large",
            "must be at most 16 KiB once serialized",
        ));
    }
    Ok(())
}

/// The deepest nesting of arrays and objects in raw JSON text, counted
/// without parsing (strings are skipped), so a hostile body is refused before
/// the parser recurses into it.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether JSON text escapes a NUL character (`\u0000`) in some string.
/// PostgreSQL cannot store NUL in text and SQLite can, so NUL is refused at
/// the edge to keep one behaviour. Escaped backslashes are skipped, so a
/// literal `\\u0000` (backslash, then "u0000") is not a NUL.
pub fn escapes_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "n": [1]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "n": [1]}));
    }

    #[test]
    fn nul_escapes_are_found_but_escaped_backslashes_are_not() {
        assert!(escapes_nul(br#"{"a": "x\u0000y"}"#));
        assert!(!escapes_nul(br#"{"a": "x\\u0000y"}"#));
        assert!(!escapes_nul(br#"{"a": "\u00e9"}"#));
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a": "[[[[", "b": [{"c": 1}]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a": "\"[["}"#), 1);
    }
}
