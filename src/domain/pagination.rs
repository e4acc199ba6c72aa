//! Page requests and opaque keyset cursors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::validation::FieldError;
use super::Error;

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    First,
    /// After the row with this sort key and id (keyset).
    After(Cursor),
    Offset(i64),
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub start: Start,
    pub include_total: bool,
}

/// The position of the last row of a page: its sort key and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: CursorKey,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Int(i64),
    Text(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match &self.key {
            CursorKey::Int(v) => format!("{}\ni{v}", self.id),
            CursorKey::Text(t) => format!("{}\nt{t}", self.id),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        // The id never contains a newline; the key may.
        let (id, key) = raw.split_once('\n')?;
        let key = match key.split_at_checked(1)? {
            ("i", v) => CursorKey::Int(v.parse().ok()?),
            ("t", v) => CursorKey::Text(v.to_owned()),
            _ => return None,
        };
        Some(Cursor {
            key,
            id: id.to_owned(),
        })
    }
}

impl Cursor {
    /// The sort key and id of a cursor of the list being read: one whose
    /// rows have `id_prefix` ids, sorted by an integer key (`created_at`) or,
    /// with `text_key`, a text one (`lower(name)`). Any other cursor (of
    /// another list or another sort order) is 400 `invalid_parameter` on
    /// `cursor`, never a page of something else.
    pub fn of_list(&self, id_prefix: &str, text_key: bool) -> Result<(&CursorKey, &str), Error> {
        let key_fits = matches!(self.key, CursorKey::Text(_)) == text_key;
        if key_fits && self.id.starts_with(id_prefix) {
            Ok((&self.key, &self.id))
        } else {
            Err(foreign_cursor())
        }
    }

    /// [`Cursor::of_list`] for lists sorted by `created_at`.
    pub fn created_at_of(&self, id_prefix: &str) -> Result<(i64, &str), Error> {
        match (&self.key, self.id.starts_with(id_prefix)) {
            (CursorKey::Int(at), true) => Ok((*at, &self.id)),
            _ => Err(foreign_cursor()),
        }
    }
}

fn foreign_cursor() -> Error {
    Error::param(
        "cursor",
        "invalid",
        "is not a cursor of this list and sort order",
    )
}

impl PageRequest {
    /// Where the page starts: after this cursor (a keyset page), or after
    /// skipping this many rows (0 for a first page and for a cursor).
    pub fn position(&self) -> (Option<&Cursor>, i64) {
        match &self.start {
            Start::First => (None, 0),
            Start::Offset(n) => (None, *n),
            Start::After(c) => (Some(c), 0),
        }
    }

    /// Validates the raw query values of a list route.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
        offset: Option<&str>,
        include_total: Option<&str>,
    ) -> Result<PageRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        "invalid",
                        "must be an integer from 1 to 100",
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let start = match (cursor, offset) {
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "cursor",
                    "invalid",
                    "cursor and offset cannot be combined",
                ));
                Start::First
            }
            (Some(c), None) => match Cursor::decode(c) {
                Some(c) => Start::After(c),
                None => {
                    errors.push(FieldError::new(
                        "cursor",
                        "invalid",
                        "is not a cursor from a previous page",
                    ));
                    Start::First
                }
            },
            (None, Some(o)) => match o.parse::<i64>() {
                Ok(n) if (0..=1_000_000_000).contains(&n) => Start::Offset(n),
                _ => {
                    errors.push(FieldError::new(
                        "offset",
                        "invalid",
                        "must be a non-negative integer",
                    ));
                    Start::First
                }
            },
            (None, None) => Start::First,
        };
        let include_total = match include_total {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                errors.push(FieldError::new(
                    "include_total",
                    "invalid",
                    "must be true or false",
                ));
                false
            }
        };
        if errors.is_empty() {
            Ok(PageRequest {
                limit,
                start,
                include_total,
            })
        } else {
            Err(errors)
        }
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            key: CursorKey::Text("Name\nwith newline".into()),
            id: "ws_1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        let c = Cursor {
            key: CursorKey::Int(-5),
            id: "ws_2".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("!!!"), None);
        assert_eq!(Cursor::decode("aGVsbG8"), None);
    }

    #[test]
    fn a_cursor_fits_only_its_own_list_and_sort_order() {
        let by_date = Cursor {
            key: CursorKey::Int(7),
            id: "prj_1".into(),
        };
        let by_name = Cursor {
            key: CursorKey::Text("alpha".into()),
            id: "prj_1".into(),
        };
        assert_eq!(by_date.created_at_of("prj_").unwrap(), (7, "prj_1"));
        assert_eq!(
            by_name.of_list("prj_", true).unwrap(),
            (&CursorKey::Text("alpha".into()), "prj_1")
        );
        for refused in [
            by_date.created_at_of("ws_"),
            by_name.created_at_of("prj_"),
            by_date.of_list("prj_", true).map(|_| (0, "")),
            by_name.of_list("cb_", true).map(|_| (0, "")),
        ] {
            let Err(Error::InvalidParameter(fields)) = refused else {
                panic!("accepted a foreign cursor: {refused:?}");
            };
            assert_eq!(fields[0].field, "cursor");
        }
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        for bad in ["0", "101", "-1", "abc", "99999999999999999999"] {
            assert!(
                PageRequest::parse(Some(bad), None, None, None).is_err(),
                "{bad}"
            );
        }
        assert!(PageRequest::parse(None, Some("x"), Some("1"), None).is_err());
        assert_eq!(
            PageRequest::parse(Some("20"), None, None, None)
                .unwrap()
                .limit,
            20
        );
    }
}
