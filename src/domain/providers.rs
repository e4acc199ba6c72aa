//! AI providers a workspace may use (SPEC §7): chosen from the configured
//! list, at least one, duplicates folded.

use super::validation::FieldError;

/// The providers configuration offers when it names none.
pub const DEFAULT: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "perplexity",
    "mistral",
    "cohere",
];

/// Validates a chosen list against `allowed`: names are matched after
/// trimming and lowercasing; the first occurrence's position wins.
/// Each unknown name is an error naming it (`providers[i]`).
pub fn choose(
    raw: &[String],
    allowed: &[String],
    min: usize,
) -> Result<Vec<String>, Vec<FieldError>> {
    let mut out: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        let n = name.trim().to_ascii_lowercase();
        if !allowed.contains(&n) {
            errors.push(FieldError::new(
                format!("providers[{i}]"),
                "unknown",
                format!(
                    "'{}' is not a configured provider (known: {})",
                    name.chars().take(64).collect::<String>(),
                    allowed.join(", ")
                ),
            ));
        } else if !out.contains(&n) {
            out.push(n);
        }
    }
    if errors.is_empty() && out.len() < min {
        errors.push(FieldError::new(
            "providers",
            "required",
            "must name at least one provider",
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn folds_duplicates_and_names_unknowns() {
        let allowed = s(DEFAULT);
        assert_eq!(
            choose(&s(&["openai", "Anthropic", "openai"]), &allowed, 1).unwrap(),
            s(&["openai", "anthropic"])
        );
        let e = choose(&s(&["openai", "skynet"]), &allowed, 1).unwrap_err();
        assert_eq!(e[0].field, "providers[1]");
        assert!(e[0].message.contains("skynet"));
        assert_eq!(choose(&[], &allowed, 1).unwrap_err()[0].field, "providers");
        assert!(choose(&[], &allowed, 0).unwrap().is_empty());
    }
}
