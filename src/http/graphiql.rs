//! GraphiQL, served by the hub from files built into the binary: pinned production builds
//! of GraphiQL and React (web/vendor/graphiql/, copied there by scripts/vendor-graphiql.sh)
//! and the few lines that start it (web/graphiql/start.js). Nothing is loaded from
//! elsewhere, so the page works without internet access.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::page_headers;

/// Scripts and data from the hub only; GraphiQL styles its editors inline.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Where the files are served; the version in the path lets browsers keep them for good.
pub(crate) const ASSETS_PATH: &str = "/assets/graphiql-3.8.3";

/// The files: name, content type, bytes.
pub(crate) const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/vendor/graphiql/graphiql.min.css"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/graphiql/graphiql.min.js"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/graphiql/react-dom.production.min.js"),
    ),
    (
        "start.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/graphiql/start.js"),
    ),
];

pub(crate) async fn page() -> Response {
    let html = Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coalition hub · GraphiQL</title>
<link rel="stylesheet" href="{ASSETS_PATH}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{ASSETS_PATH}/react.production.min.js"></script>
<script src="{ASSETS_PATH}/react-dom.production.min.js"></script>
<script src="{ASSETS_PATH}/graphiql.min.js"></script>
<script src="{ASSETS_PATH}/start.js"></script>
</body>
</html>
"#
    ));
    (page_headers(POLICY), html).into_response()
}

pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=604800"),
            ),
        ],
        *bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    const SUMS: &str = include_str!("../../web/vendor/graphiql/SHA256SUMS");
    const PACKAGE: &str = include_str!("../../web/vendor/graphiql/package.json");

    /// The vendored files are the ones scripts/vendor-graphiql.sh copied from the pinned
    /// packages (it records their sums), and the path names the pinned GraphiQL.
    #[test]
    fn the_vendored_files_are_the_pinned_packages() {
        let mut checked = 0;
        for line in SUMS.lines() {
            let (sum, name) = line.split_once("  ").expect("sha256sum's format");
            let (_, _, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name).expect(name);
            assert_eq!(
                hex(&Sha256::digest(bytes)),
                sum,
                "{name} differs from what was vendored"
            );
            checked += 1;
        }
        assert_eq!(checked, ASSETS.len() - 1, "every vendored file has its sum");
        let package: serde_json::Value = serde_json::from_str(PACKAGE).unwrap();
        let version = package["dependencies"]["graphiql"].as_str().unwrap();
        assert_eq!(ASSETS_PATH, format!("/assets/graphiql-{version}"));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
