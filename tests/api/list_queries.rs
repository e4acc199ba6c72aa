//! `q` and `sort` of the lists (SPEC §1 pagination, §3): `q` folds case
//! beyond ASCII, `sort=name` orders the same on both databases, and a
//! cursor belongs to the sort order that issued it.

use serde_json::{json, Value};
use workspaced::domain::ids::WorkspaceId;
use workspaced::domain::roles::Role;

use crate::helpers::*;

/// `q` as a query value.
fn enc(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn names(r: &TestResponse) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect()
}

fn members(r: &TestResponse) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The names of every item of `list`, walked `limit` at a time.
async fn walk_names(app: &TestApp, list: &str, token: &str, limit: usize) -> Vec<String> {
    app.walk(list, token, limit)
        .await
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn q_finds_workspaces_by_name_whatever_the_case_of_non_ascii_letters() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for name in ["Café Ünïcode", "ÉCOLE Normale", "Ωmega Lab", "ЖУК", "Plain"] {
        app.workspace(&ada, name).await;
    }
    let bob = app.signup("Bob").await;
    app.workspace(&bob, "Ünïcode of Bob").await;

    for (q, found) in [
        ("ünï", "Café Ünïcode"),
        ("ÜNÏ", "Café Ünïcode"),
        ("CAFÉ ü", "Café Ünïcode"),
        ("école", "ÉCOLE Normale"),
        ("ωMEGA", "Ωmega Lab"),
        ("жук", "ЖУК"),
        // The slug is ASCII: the unaccented word finds it there.
        ("CAFE-UNI", "Café Ünïcode"),
    ] {
        let r = app
            .get(
                &format!("/v1/workspaces?q={}&include_total=true", enc(q)),
                &ada.token,
            )
            .await;
        r.assert(200);
        assert_eq!(names(&r), [found], "q={q}");
        assert_eq!(r.body["meta"]["total"], 1, "q={q}");
    }
    // Case-insensitive, not accent-insensitive: "ecole n" is in neither
    // the name ("école normale") nor the slug ("ecole-normale").
    let r = app.get("/v1/workspaces?q=ecole%20n", &ada.token).await;
    assert_eq!(names(&r), Vec::<String>::new());
}

#[tokio::test]
async fn q_finds_members_by_name_whatever_the_case_of_non_ascii_letters() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Crew").await;
    let ws_id = WorkspaceId::parse(ws["id"].as_str().unwrap()).unwrap();
    // Emails that do not repeat the names, so that only a name can match.
    for (i, name) in ["Zoë ÜNÏCODE", "Émile Zola"].into_iter().enumerate() {
        let r = app
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": format!("m{i}@example.com"), "name": name,
                            "password": "correct horse battery"})),
            )
            .await;
        r.assert(201);
        let id = workspaced::domain::ids::UserId::parse(r.body["user"]["id"].as_str().unwrap());
        app.store
            .add_member(&ws_id, &id.unwrap(), Role::Member, None)
            .await
            .unwrap();
    }
    let grace = app.signup("Grace Hopper").await;
    app.store
        .add_member(&ws_id, &grace.user_id(), Role::Member, None)
        .await
        .unwrap();
    let base = format!("/v1/workspaces/{}/members", ws["id"].as_str().unwrap());
    for (q, found) in [
        ("ünï", "Zoë ÜNÏCODE"),
        ("ZOË", "Zoë ÜNÏCODE"),
        ("ÉMILE", "Émile Zola"),
        ("émile zola", "Émile Zola"),
        // and the email, as before
        ("GRACE.HOPPER", "Grace Hopper"),
    ] {
        let r = app
            .get(
                &format!("{base}?q={}&include_total=true", enc(q)),
                &owner.token,
            )
            .await;
        r.assert(200);
        assert_eq!(members(&r), [found], "q={q}");
        assert_eq!(r.body["meta"]["total"], 1, "q={q}");
    }
}

/// Folded, then by code point: lowercase ASCII before accented letters, "É"
/// and "é" together; the same on SQLite and PostgreSQL.
const BY_NAME: [&str; 7] = [
    "apple", "Banana", "Zoo", "ärger", "Éclair", "éclat", "Ωmega",
];

#[tokio::test]
async fn name_sort_folds_case_and_orders_alike_on_both_databases() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    // Created in no particular order.
    for name in [
        "éclat", "Zoo", "Ωmega", "Éclair", "apple", "ärger", "Banana",
    ] {
        app.workspace(&ada, name).await;
    }
    let r = app
        .get("/v1/workspaces?sort=name&limit=100", &ada.token)
        .await;
    r.assert(200);
    assert_eq!(names(&r), BY_NAME);
    let r = app
        .get("/v1/workspaces?sort=-name&limit=100", &ada.token)
        .await;
    let mut reversed = BY_NAME.to_vec();
    reversed.reverse();
    assert_eq!(names(&r), reversed);
    // Keyset pages over non-ASCII keys find the same order, one at a time.
    for limit in [1, 2, 3] {
        assert_eq!(
            walk_names(&app, "/v1/workspaces?sort=name", &ada.token, limit).await,
            BY_NAME,
            "limit {limit}"
        );
        assert_eq!(
            walk_names(&app, "/v1/workspaces?sort=-name", &ada.token, limit).await,
            reversed,
            "limit {limit}"
        );
    }

    // The lists of one workspace's rows sort the same way.
    let ws = app.workspace(&ada, "Projects").await;
    let projects = format!("/v1/workspaces/{}/projects", ws["id"].as_str().unwrap());
    for name in [
        "éclat", "Zoo", "Ωmega", "Éclair", "apple", "ärger", "Banana",
    ] {
        app.post(&projects, &ada.token, json!({"name": name}))
            .await
            .assert(201);
    }
    for limit in [2, 100] {
        assert_eq!(
            walk_names(&app, &format!("{projects}?sort=name"), &ada.token, limit).await,
            BY_NAME,
        );
    }
}

#[tokio::test]
async fn names_that_fold_alike_page_by_id_without_loss_or_repeat() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for name in ["CAFÉ", "café", "Café", "cafÉ", "Ünï", "ünï"] {
        app.workspace(&ada, name).await;
    }
    let whole: Vec<Value> = app
        .get("/v1/workspaces?sort=name&limit=100", &ada.token)
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .clone();
    let ids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for limit in [1, 2, 4] {
        let walked = app
            .walk("/v1/workspaces?sort=name", &ada.token, limit)
            .await;
        assert_eq!(ids(&walked), ids(&whole), "limit {limit}");
    }
    let folded: Vec<String> = whole
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(folded, ["café", "café", "café", "café", "ünï", "ünï"]);
}

/// A second page's cursor of `list` (which must have one).
async fn cursor_of(app: &TestApp, list: &str, token: &str) -> String {
    let r = app.get(list, token).await;
    r.assert(200);
    r.body["meta"]["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{list}: no second page"))
        .to_owned()
}

#[tokio::test]
async fn a_cursor_is_refused_with_another_sort_order_and_works_with_its_own() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for name in ["Bravo", "alpha", "Écho", "delta", "Charlie"] {
        app.workspace(&ada, name).await;
    }
    let ws = app.workspace(&ada, "Rows").await;
    let projects = format!("/v1/workspaces/{}/projects", ws["id"].as_str().unwrap());
    for name in ["Bravo", "alpha", "Écho"] {
        app.post(&projects, &ada.token, json!({"name": name}))
            .await
            .assert(201);
    }

    let orders = [
        "",
        "sort=-created_at",
        "sort=created_at",
        "sort=name",
        "sort=-name",
    ];
    // The order a cursor was issued in, as `Sort` names it: the default
    // and `-created_at` are one order.
    let same = |a: &str, b: &str| {
        let norm = |s: &str| {
            if s.is_empty() {
                "sort=-created_at".to_owned()
            } else {
                s.to_owned()
            }
        };
        norm(a) == norm(b)
    };
    for list in ["/v1/workspaces", projects.as_str()] {
        for issued in orders {
            let cursor = cursor_of(&app, &format!("{list}?limit=2&{issued}"), &ada.token).await;
            for used in orders {
                let r = app
                    .get(
                        &format!("{list}?limit=2&{used}&cursor={cursor}"),
                        &ada.token,
                    )
                    .await;
                if same(issued, used) {
                    r.assert(200);
                    // The page after the first, as the whole list has it.
                    let whole = app
                        .get(&format!("{list}?limit=100&{used}"), &ada.token)
                        .await;
                    let rest = &names(&whole)[2..];
                    assert_eq!(names(&r), rest[..rest.len().min(2)], "{list} {issued}");
                } else {
                    r.assert_problem(400, "invalid_parameter");
                    assert_eq!(
                        r.fields(),
                        ["cursor"],
                        "{list}: a cursor of '{issued}' used with '{used}'"
                    );
                }
            }
        }
    }
}
