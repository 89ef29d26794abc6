//! The pages for people (`web/pages/`, built into the binary): `/login`, `/app` (a member's
//! wallet), `/boards` (ambassadors), `/portal` (a partner's staff) and `/console` (the
//! operator). Each is a static HTML file and a script that calls `/graphql` as the signed-in
//! user (`http::sessions`); the scripts and the stylesheet are served under `/pages/`.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::page_headers;

/// Scripts, styles and data from the hub only; no inline script or style; never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

macro_rules! page {
    ($name:ident, $file:literal) => {
        pub(crate) async fn $name() -> Response {
            let html = Html(include_str!(concat!("../../web/pages/", $file)));
            let cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
            (page_headers(POLICY), cache, html).into_response()
        }
    };
}

page!(login, "login.html");
page!(wallet, "app.html");
page!(boards, "boards.html");
page!(portal, "portal.html");
page!(console, "console.html");

/// The pages' scripts and stylesheet, by file name.
const ASSETS: [(&str, &str); 9] = [
    ("hub.css", include_str!("../../web/pages/hub.css")),
    ("icon.svg", include_str!("../../web/pages/icon.svg")),
    ("hub.js", include_str!("../../web/pages/hub.js")),
    ("sections.js", include_str!("../../web/pages/sections.js")),
    ("login.js", include_str!("../../web/pages/login.js")),
    ("app.js", include_str!("../../web/pages/app.js")),
    ("boards.js", include_str!("../../web/pages/boards.js")),
    ("portal.js", include_str!("../../web/pages/portal.js")),
    ("console.js", include_str!("../../web/pages/console.js")),
];

pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, text)) = ASSETS.iter().find(|(file, _)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "text/javascript; charset=utf-8",
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        *text,
    )
        .into_response()
}
