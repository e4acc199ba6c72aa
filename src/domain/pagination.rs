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

/// The order of a list: by creation time or by name, either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// Newest first: every list's default.
    #[default]
    CreatedDesc,
    CreatedAsc,
    /// Case-insensitive (see [`fold_case`](super::text::fold_case)).
    NameAsc,
    NameDesc,
}

impl Sort {
    /// The `sort` query value: `created_at`, `-created_at`, `name`, `-name`
    /// (absent: newest first).
    pub fn parse(raw: Option<&str>) -> Option<Sort> {
        Some(match raw {
            None | Some("-created_at") => Sort::CreatedDesc,
            Some("created_at") => Sort::CreatedAsc,
            Some("name") => Sort::NameAsc,
            Some("-name") => Sort::NameDesc,
            Some(_) => return None,
        })
    }

    /// Whether the key is the name (text) rather than the creation time.
    pub fn by_name(self) -> bool {
        matches!(self, Sort::NameAsc | Sort::NameDesc)
    }

    pub fn descending(self) -> bool {
        matches!(self, Sort::CreatedDesc | Sort::NameDesc)
    }

    /// The order's letter in an encoded cursor. `i` was the only integer
    /// tag before cursors named their order, and every newest-first cursor
    /// carried it: those (the default lists', the only ones most clients
    /// ever see) read and write as before, also across a rolling upgrade.
    /// The former text tag `t` named no direction and is refused.
    const TAGS: [(Sort, char); 4] = [
        (Sort::CreatedDesc, 'i'),
        (Sort::CreatedAsc, 'c'),
        (Sort::NameAsc, 'n'),
        (Sort::NameDesc, 'r'),
    ];

    fn tag(self) -> char {
        Self::TAGS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or('i', |(_, t)| *t)
    }

    fn of_tag(tag: char) -> Option<Sort> {
        Self::TAGS.iter().find(|(_, t)| *t == tag).map(|(s, _)| *s)
    }
}

/// The position of the last row of a page: the order it was read in, its
/// sort key and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub key: CursorKey,
    pub id: String,
}

/// A creation time for the `created_at` orders, a folded name for the name
/// orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Int(i64),
    Text(String),
}

impl Cursor {
    /// `<id>\n<order's tag><key>`, base64url.
    pub fn encode(&self) -> String {
        let tag = self.sort.tag();
        let raw = match &self.key {
            CursorKey::Int(v) => format!("{}\n{tag}{v}", self.id),
            CursorKey::Text(t) => format!("{}\n{tag}{t}", self.id),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        // The id never contains a newline; the key may.
        let (id, key) = raw.split_once('\n')?;
        let mut chars = key.chars();
        let sort = Sort::of_tag(chars.next()?)?;
        let key = match sort.by_name() {
            true => CursorKey::Text(chars.as_str().to_owned()),
            false => CursorKey::Int(chars.as_str().parse().ok()?),
        };
        Some(Cursor {
            sort,
            key,
            id: id.to_owned(),
        })
    }
}

impl Cursor {
    /// The sort key and id of a cursor of the list being read: one whose
    /// rows have `id_prefix` ids, read in the order `sort`. Any other cursor
    /// (of another list, another key or another direction) is 400
    /// `invalid_parameter` on `cursor`, never a page of something else.
    pub fn of_list(&self, id_prefix: &str, sort: Sort) -> Result<(&CursorKey, &str), Error> {
        if self.sort == sort && self.id.starts_with(id_prefix) {
            Ok((&self.key, &self.id))
        } else {
            Err(foreign_cursor())
        }
    }

    /// [`Cursor::of_list`] for lists read newest first only.
    pub fn created_at_of(&self, id_prefix: &str) -> Result<(i64, &str), Error> {
        match self.of_list(id_prefix, Sort::CreatedDesc)? {
            (CursorKey::Int(at), id) => Ok((*at, id)),
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
        for c in [
            Cursor {
                sort: Sort::NameAsc,
                key: CursorKey::Text("Name\nwith newline".into()),
                id: "ws_1".into(),
            },
            Cursor {
                sort: Sort::NameDesc,
                key: CursorKey::Text(String::new()),
                id: "ws_1".into(),
            },
            Cursor {
                sort: Sort::CreatedDesc,
                key: CursorKey::Int(-5),
                id: "ws_2".into(),
            },
            Cursor {
                sort: Sort::CreatedAsc,
                key: CursorKey::Int(1_700_000_000_000),
                id: "ws_2".into(),
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("!!!"), None);
        assert_eq!(Cursor::decode("aGVsbG8"), None);
        // The former text tag, which named no direction.
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("ws_1\ntalpha")),
            None
        );
    }

    #[test]
    fn newest_first_cursors_are_written_as_before_orders_had_tags() {
        let c = Cursor {
            sort: Sort::CreatedDesc,
            key: CursorKey::Int(1_700_000_000_123),
            id: "ws_01".into(),
        };
        assert_eq!(c.encode(), URL_SAFE_NO_PAD.encode("ws_01\ni1700000000123"));
    }

    #[test]
    fn a_cursor_fits_only_its_own_list_and_sort_order() {
        let by_date = Cursor {
            sort: Sort::CreatedDesc,
            key: CursorKey::Int(7),
            id: "prj_1".into(),
        };
        let oldest_first = Cursor {
            sort: Sort::CreatedAsc,
            ..by_date.clone()
        };
        let by_name = Cursor {
            sort: Sort::NameAsc,
            key: CursorKey::Text("alpha".into()),
            id: "prj_1".into(),
        };
        let by_name_desc = Cursor {
            sort: Sort::NameDesc,
            ..by_name.clone()
        };
        assert_eq!(by_date.created_at_of("prj_").unwrap(), (7, "prj_1"));
        assert_eq!(
            by_name.of_list("prj_", Sort::NameAsc).unwrap(),
            (&CursorKey::Text("alpha".into()), "prj_1")
        );
        assert!(oldest_first.of_list("prj_", Sort::CreatedAsc).is_ok());
        assert!(by_name_desc.of_list("prj_", Sort::NameDesc).is_ok());
        for refused in [
            by_date.created_at_of("ws_"),
            by_name.created_at_of("prj_"),
            oldest_first.created_at_of("prj_"),
            by_date.of_list("prj_", Sort::NameAsc).map(|_| (0, "")),
            by_date.of_list("prj_", Sort::CreatedAsc).map(|_| (0, "")),
            by_name.of_list("cb_", Sort::NameAsc).map(|_| (0, "")),
            by_name.of_list("prj_", Sort::NameDesc).map(|_| (0, "")),
            by_name_desc.of_list("prj_", Sort::NameAsc).map(|_| (0, "")),
        ] {
            let Err(Error::InvalidParameter(fields)) = refused else {
                panic!("accepted a foreign cursor: {refused:?}");
            };
            assert_eq!(fields[0].field, "cursor");
        }
    }

    #[test]
    fn sorts_parse_from_their_query_values() {
        assert_eq!(Sort::parse(None), Some(Sort::CreatedDesc));
        assert_eq!(Sort::parse(Some("-created_at")), Some(Sort::CreatedDesc));
        assert_eq!(Sort::parse(Some("created_at")), Some(Sort::CreatedAsc));
        assert_eq!(Sort::parse(Some("name")), Some(Sort::NameAsc));
        assert_eq!(Sort::parse(Some("-name")), Some(Sort::NameDesc));
        assert_eq!(Sort::parse(Some("Name")), None);
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
