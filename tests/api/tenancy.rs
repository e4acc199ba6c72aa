//! Tenancy: a randomized walk over every route in the OpenAPI document, by
//! members of several tenants, with their own and other tenants' ids in the
//! path. No response to one tenant may contain another tenant's workspace
//! id, name or slug, or a user's email or id.
//!
//! Request bodies only ever carry the caller's own data or neutral values:
//! naming another tenant's user in a body (an invitation, say) is allowed to
//! echo that user back. The seed is printed; set `TENANCY_SEED` to replay.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

struct Tenant {
    owner: Actor,
    viewer: Actor,
    workspaces: Vec<Value>,
}

impl Tenant {
    /// Strings only this tenant's members may see.
    fn secrets(&self) -> Vec<String> {
        let mut s = vec![
            self.owner.email.clone(),
            self.owner.id.clone(),
            self.viewer.email.clone(),
            self.viewer.id.clone(),
        ];
        for w in &self.workspaces {
            for k in ["id", "name", "slug"] {
                s.push(w[k].as_str().unwrap().to_owned());
            }
        }
        s
    }
}

const TENANTS: usize = 4;

#[tokio::test]
async fn no_route_leaks_another_tenants_data() {
    let seed: u64 = std::env::var("TENANCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("TENANCY_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;

    let mut tenants = Vec::new();
    for t in 0..TENANTS {
        let owner = app.signup(&format!("Owner{t}")).await;
        let mut workspaces = Vec::new();
        for w in 0..2 {
            workspaces.push(
                app.workspace(&owner, &format!("Tenant{t} Secret Project {w} {seed}"))
                    .await,
            );
        }
        let viewer = app.member_of(&workspaces[0], Role::Viewer).await;
        tenants.push(Tenant {
            owner,
            viewer,
            workspaces,
        });
    }

    let (_, doc) = workspaced::http::api();
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in &doc.paths.paths {
        let item = serde_json::to_value(item).unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    // Reads first (they see the richest state), then writes, shuffled each.
    routes.shuffle(&mut rng);
    routes.sort_by_key(|(m, _)| m != "GET");

    let mut checked = 0;
    for (method, template) in &routes {
        // Signing out or deleting the account would end the walk early.
        if template.starts_with("/v1/auth/") || (template == "/v1/me" && method == "DELETE") {
            continue;
        }
        for (t, tenant) in tenants.iter().enumerate() {
            let others: Vec<&Tenant> = tenants
                .iter()
                .enumerate()
                .filter(|(o, _)| *o != t)
                .map(|(_, x)| x)
                .collect();
            let forbidden: Vec<String> = others.iter().flat_map(|o| o.secrets()).collect();
            for caller in [&tenant.owner, &tenant.viewer] {
                for foreign in [false, true] {
                    let other = others.choose(&mut rng).unwrap();
                    let (path, echoed) = fill_path(template, tenant, other, foreign, &mut rng);
                    let path = if method == "GET" && rng.gen_bool(0.5) {
                        // Searching by another tenant's name finds nothing.
                        let q = other.workspaces[0]["name"].as_str().unwrap();
                        format!("{path}?limit=100&q={}", q.replace(' ', "%20"))
                    } else {
                        path
                    };
                    let body = matches!(method.as_str(), "POST" | "PATCH" | "PUT")
                        .then(|| neutral_body(&mut rng, tenant));
                    let r = app
                        .call(method, &path, Some(&caller.token), body.clone())
                        .await;
                    assert!(
                        r.status.as_u16() < 500,
                        "{method} {path} answered {}: {}",
                        r.status,
                        r.text
                    );
                    // An error may echo the path, which is the caller's own
                    // input; a success may not contain the foreign id at all.
                    let mut text = r.text.clone();
                    if !r.status.is_success() {
                        for v in &echoed {
                            text = text.replace(v.as_str(), "");
                        }
                    }
                    for secret in &forbidden {
                        assert!(
                            !text.contains(secret.as_str()),
                            "TENANCY_SEED={seed}: {method} {path} (body {body:?}) as tenant {t} \
                             leaked another tenant's {secret:?}: {}",
                            r.text
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} requests checked");
    println!(
        "tenancy: {checked} requests over {} routes checked",
        routes.len()
    );
}

/// Fills `{param}`s: with `foreign`, from another tenant (a guess at a
/// foreign id); otherwise from the caller's tenant. Returns the path and the
/// foreign values put into it (which the response may echo).
fn fill_path(
    template: &str,
    own: &Tenant,
    other: &Tenant,
    foreign: bool,
    rng: &mut StdRng,
) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut echoed = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e).unwrap();
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        let src = if foreign { other } else { own };
        let ws = &src.workspaces[rng.gen_range(0..src.workspaces.len())];
        let value = if name.contains("user") {
            if rng.gen_bool(0.5) {
                src.owner.id.clone()
            } else {
                src.viewer.id.clone()
            }
        } else if name.contains("workspace") {
            let key = if rng.gen_bool(0.5) { "id" } else { "slug" };
            ws[key].as_str().unwrap().to_owned()
        } else {
            // Any other id: a foreign workspace or user id is as good a guess as any.
            if rng.gen_bool(0.5) {
                ws["id"].as_str().unwrap().to_owned()
            } else {
                src.owner.id.clone()
            }
        };
        if foreign {
            echoed.push(value.clone());
        }
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    (out, echoed)
}

fn neutral_body(rng: &mut StdRng, own: &Tenant) -> Value {
    match rng.gen_range(0..4) {
        0 => json!({}),
        1 => json!({"name": "Renamed"}),
        2 => json!({"description": "x", "settings": {"k": 1}}),
        _ => json!({"user_id": own.viewer.id, "role": "member"}),
    }
}
