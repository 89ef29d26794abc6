//! A real browser for the page tests: Debian's headless Chromium driven through its
//! ChromeDriver (both installed by scripts/test.sh), over the W3C WebDriver protocol.
//! Every host but the hub's is unresolvable, so a page that needs anything from elsewhere
//! fails here. Each browser has its own driver, port and profile.

use std::{path::PathBuf, time::Duration};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::free_port;

pub struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: tokio::process::Child,
    profile: PathBuf,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver runs (scripts/test.sh installs chromium-driver)");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("hub-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()),
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Browser {
            http,
            session: format!("{base}/session/{session}"),
            _driver: driver,
            profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method.clone(), &url);
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"].get("error").is_none(), "{path}: {answer}");
        answer["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// Runs `script` (a function body) in the page and answers what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.command(reqwest::Method::POST, "/execute/sync", body)
            .await
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        let text = self.eval("return document.body.innerText").await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits (at most `secs`) until the page's text satisfies `check`; answers that text.
    pub async fn wait_for_text(
        &self,
        secs: u64,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text().await;
            if check(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}; the page shows: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's console errors so far (a refused load, a script error, a violated
    /// content security policy).
    pub async fn console_errors(&self) -> Vec<String> {
        let body = json!({"type": "browser"});
        let logs = self.command(reqwest::Method::POST, "/se/log", body).await;
        logs.as_array()
            .unwrap()
            .iter()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Sets the window's size (375 wide: a phone).
    pub async fn resize(&self, width: u32, height: u32) {
        let rect = json!({"width": width, "height": height});
        self.command(reqwest::Method::POST, "/window/rect", rect)
            .await;
    }

    /// Whether the page fits the window's width (no sideways scrolling).
    pub async fn fits_width(&self) -> bool {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth";
        self.eval(script).await == json!(true)
    }

    /// Saves a screenshot as target/screenshots/`name`.png.
    pub async fn screenshot(&self, name: &str) {
        let png = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        self.command(reqwest::Method::DELETE, "", Value::Null).await;
        std::fs::remove_dir_all(&self.profile).ok();
    }
}
