//! Pages the hub serves to people: GraphiQL, from files built into the binary.

use sha2::{Digest, Sha256};

use crate::support::TestApp;

/// Every `src="…"` and `href="…"` of the page.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in page.split(attribute).skip(1) {
            found.push(piece.split('"').next().unwrap().to_owned());
        }
    }
    found
}

#[tokio::test]
async fn graphiql_loads_everything_from_the_hub_itself() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = true)
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let references = references(&page);
    assert_eq!(references.len(), 5, "{page}");
    let sums = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/vendor/graphiql/SHA256SUMS"),
    )
    .unwrap();
    for reference in references {
        // Same origin, nothing from a CDN.
        assert!(reference.starts_with("/assets/graphiql-"), "{reference}");
        let asset = client.get(app.url(&reference)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{reference}");
        let content_type = asset.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if reference.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{reference}: {content_type}"
        );
        let bytes = asset.bytes().await.unwrap();
        let name = reference.rsplit('/').next().unwrap();
        let sum: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if name != "start.js" {
            assert!(
                sums.contains(&format!("{sum}  {name}")),
                "{name} is not the vendored file"
            );
        }
    }
    let missing = client
        .get(app.url("/assets/graphiql-3.8.3/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn graphiql_is_not_served_unless_configured() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = false)
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let asset = client
        .get(app.url("/assets/graphiql-3.8.3/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 404);
}

/// Chromium (installed by scripts/test.sh), headless, on `url`, with every host but the
/// hub's unresolvable: a page that needs anything from elsewhere does not render. Answers
/// the DOM after the page's scripts ran and saves a screenshot under
/// target/screenshots/`name`.png.
async fn chromium(url: &str, name: &str) -> String {
    let screenshots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    // A profile of its own: runs at once do not share (and lock) one.
    let profile =
        std::env::temp_dir().join(format!("hub-chromium-{}-{name}", uuid::Uuid::new_v4()));
    let run = |extra: Vec<String>| {
        let mut command = tokio::process::Command::new("chromium");
        command.arg(format!("--user-data-dir={}", profile.display()));
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=10000",
                "--window-size=1280,800",
            ])
            .args(extra)
            .arg(url)
            .kill_on_drop(true);
        async move {
            let output = tokio::time::timeout(std::time::Duration::from_secs(90), command.output())
                .await
                .expect("chromium took over 90 s")
                .expect("chromium runs (scripts/test.sh installs it)");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let shot = screenshots.join(format!("{name}.png"));
    run(vec![format!("--screenshot={}", shot.display())]).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 0);
    let dom = run(vec!["--dump-dom".to_owned()]).await;
    std::fs::remove_dir_all(&profile).ok();
    dom
}

#[tokio::test]
async fn graphiql_renders_in_a_browser_that_reaches_nothing_but_the_hub() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = true)
        .spawn()
        .await;
    let dom = chromium(&app.url("/"), "graphiql").await;
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render: {dom}"
    );
    assert!(dom.contains("graphiql-execute-button"), "{dom}");
    assert!(!dom.contains("Loading GraphiQL"), "{dom}");
}
