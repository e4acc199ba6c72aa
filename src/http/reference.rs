//! `GET /openapi.json` and `GET /docs`: the OpenAPI document of every route
//! and a reference page rendered from it. Both are built once per process
//! from [`super::api`], the route list the server serves, and sent as they
//! are: the page is plain HTML (no script, no outside resources), so it reads
//! offline and without JavaScript.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_document))
        .routes(routes!(reference_page))
}

struct Reference {
    json: String,
    html: String,
}

static REFERENCE: OnceLock<Reference> = OnceLock::new();

/// Builds the document and the page from `doc` (the router does, at start).
pub(super) fn init(doc: &utoipa::openapi::OpenApi) {
    REFERENCE.get_or_init(|| Reference::new(doc));
}

fn reference() -> &'static Reference {
    REFERENCE.get_or_init(|| Reference::new(&super::api().1))
}

impl Reference {
    fn new(doc: &utoipa::openapi::OpenApi) -> Reference {
        let json = doc.to_json().expect("openapi serializes");
        let value: Value = serde_json::from_str(&json).expect("openapi parses");
        let html = include_str!("docs.html").replace("<!-- reference -->", &render(&value));
        Reference { json, html }
    }
}

/// This document: OpenAPI 3.1 of every route the server serves, with its
/// schemas and errors.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object,
        content_type = "application/json")))]
pub async fn openapi_document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        reference().json.as_str(),
    )
}

/// The API reference as one HTML page, rendered from the OpenAPI document;
/// it needs no token, no script and no network.
#[utoipa::path(get, path = "/docs", tag = "operations", security(()),
    responses((status = 200, description = "The reference page", body = String,
        content_type = "text/html")))]
pub async fn reference_page() -> impl IntoResponse {
    (
        // Nothing but the page itself and its inline style may load.
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        )],
        Html(reference().html.as_str()),
    )
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// An operation: its method, path and object.
type Operation<'a> = (&'a str, &'a str, &'a Value);

/// The page's body: the operations by tag (method, path, summary, then
/// description, parameters, body and responses), then the schemas.
fn render(doc: &Value) -> String {
    let mut tags: Vec<(&str, Vec<Operation>)> = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other");
            match tags.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, ops)) => ops.push((method, path, op)),
                None => tags.push((tag, vec![(method, path, op)])),
            }
        }
    }
    let mut out = String::new();
    if let Some(d) = doc["info"]["description"].as_str() {
        paragraphs(&mut out, d);
    }
    out.push_str("<nav><p>");
    for (i, (tag, _)) in tags.iter().enumerate() {
        let sep = if i == 0 { "" } else { " · " };
        let _ = write!(out, r##"{sep}<a href="#{}">{}</a>"##, tag_id(tag), esc(tag));
    }
    out.push_str(r##" · <a href="#schemas">schemas</a></p></nav>"##);
    for (tag, ops) in &tags {
        let _ = write!(out, r#"<h2 id="{}">{}</h2>"#, tag_id(tag), esc(tag));
        for (method, path, op) in ops {
            operation(&mut out, method, path, op);
        }
    }
    out.push_str(r#"<h2 id="schemas">Schemas</h2>"#);
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let pretty = serde_json::to_string_pretty(schema).expect("json");
        let _ = write!(
            out,
            r#"<h3 id="schema-{0}">{0}</h3><pre>{1}</pre>"#,
            esc(name),
            esc(&pretty)
        );
    }
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let summary = op["summary"].as_str().unwrap_or("").replace('\n', " ");
    let _ = write!(
        out,
        r#"<details><summary><span class="m {method}">{}</span><span class="p">{}</span> {}</summary><div class="body">"#,
        method.to_uppercase(),
        esc(path),
        inline(&summary),
    );
    if let Some(d) = op["description"].as_str() {
        paragraphs(out, d);
    }
    if op["security"] == serde_json::json!([{}]) {
        out.push_str("<p>No token needed.</p>");
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>");
        for p in params {
            let required = if p["required"] == true {
                ""
            } else {
                " (optional)"
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["in"].as_str().unwrap_or("")),
                schema_label(&p["schema"]),
                inline(p["description"].as_str().unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        out.push_str("<p>Body: ");
        content(out, &body["content"]);
        out.push_str("</p>");
    }
    out.push_str("<table><tr><th>status</th><th>content</th><th></th></tr>");
    for (status, resp) in op["responses"].as_object().into_iter().flatten() {
        let _ = write!(out, "<tr><td>{}</td><td>", esc(status));
        content(out, &resp["content"]);
        let _ = write!(
            out,
            "</td><td>{}</td></tr>",
            inline(resp["description"].as_str().unwrap_or(""))
        );
    }
    out.push_str("</table></div></details>");
}

/// An element id for a tag (ids have no spaces).
fn tag_id(tag: &str) -> String {
    format!("tag-{}", esc(&tag.replace(' ', "-")))
}

/// `media/type` and its schema, for each media type of a body.
fn content(out: &mut String, content: &Value) {
    for (i, (media, c)) in content.as_object().into_iter().flatten().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let _ = write!(out, "{sep}<code>{}</code>", esc(media));
        if let Some(schema) = c.get("schema") {
            let _ = write!(out, " {}", schema_label(schema));
        }
    }
}

/// A schema in a few words: a link for a `$ref`, `T[]` for an array of
/// one, else its JSON.
fn schema_label(schema: &Value) -> String {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return format!(r##"<a href="#schema-{0}">{0}</a>"##, esc(name));
    }
    if schema["type"] == "array" && schema["items"].get("$ref").is_some() {
        return format!("{}[]", schema_label(&schema["items"]));
    }
    let type_name = match &schema["type"] {
        Value::String(t) => Some(t.clone()),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        _ => None,
    };
    match (schema, type_name) {
        (Value::Null, _) => String::new(),
        (Value::Object(o), _) if o.is_empty() => "any".into(),
        // A plain type: `string`, `integer (int64)`.
        (Value::Object(o), Some(t)) if o.keys().all(|k| k == "type" || k == "format") => {
            match o.get("format").and_then(Value::as_str) {
                Some(f) => format!("{} ({})", esc(&t), esc(f)),
                None => esc(&t),
            }
        }
        _ => format!("<code>{}</code>", esc(&schema.to_string())),
    }
}

/// Doc-comment text as paragraphs: blank lines part them, and a line that
/// starts a list item starts a line of its own.
fn paragraphs(out: &mut String, text: &str) {
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            let line = line.trim();
            if i > 0 {
                out.push_str(if line.starts_with("- ") { "<br>" } else { " " });
            }
            out.push_str(&inline(line));
        }
        out.push_str("</p>");
    }
}

/// Escaped text, with `code` spans.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// Text made safe for HTML content and quoted attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn text_from_the_document_is_escaped() {
        assert_eq!(
            super::esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            super::inline("works in `<img>` <b>"),
            "works in <code>&lt;img&gt;</code> &lt;b&gt;"
        );
        let doc = json!({
            "info": {"description": "<script>alert(1)</script>"},
            "paths": {"/x/{a<b}": {"get": {
                "tags": ["t\"ag"], "summary": "S <i>", "description": "`<d>`",
                "parameters": [{"name": "n<", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "<ok>",
                    "content": {"text/html": {"schema": {"$ref": "#/components/schemas/A<B"}}}}}
            }}},
            "components": {"schemas": {"A<B": {"description": "</pre><script>"}}}
        });
        let html = super::render(&doc);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<i>") && !html.contains("<ok>") && !html.contains("</pre><"));
        assert!(html.contains("/x/{a&lt;b}"), "{html}");
        assert!(html.contains(r#"id="tag-t&quot;ag""#), "{html}");
        assert_eq!(super::tag_id("join codes"), "tag-join-codes");
        assert_eq!(super::schema_label(&json!({"type": "string"})), "string");
        assert_eq!(
            super::schema_label(&json!({"type": ["integer", "null"], "format": "int64"})),
            "integer | null (int64)"
        );
        assert_eq!(
            super::schema_label(
                &json!({"type": "array", "items": {"$ref": "#/components/schemas/A"}})
            ),
            r##"<a href="#schema-A">A</a>[]"##
        );
    }

    #[test]
    fn the_page_lists_every_operation() {
        let (_, doc) = crate::http::api();
        let json = serde_json::to_value(&doc).unwrap();
        let html = super::render(&json);
        for (path, item) in json["paths"].as_object().unwrap() {
            let shown = format!(r#"<span class="p">{}</span>"#, super::esc(path));
            let ops = item.as_object().unwrap().len();
            assert_eq!(html.matches(&shown).count(), ops, "{path}");
        }
    }
}
