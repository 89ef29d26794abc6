//! A real browser for the page tests: Debian's headless Chromium driven through its
//! ChromeDriver (both installed by scripts/test.sh), over the W3C WebDriver protocol.
//! Every host but the hub's is unresolvable, so a page that needs anything from elsewhere
//! fails here. Each browser has its own driver, port and profile.

use std::{path::PathBuf, time::Duration};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::free_port;

/// WebDriver's codes of the keys that are not characters.
pub struct Key;

impl Key {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
}

pub struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: tokio::process::Child,
    profile: PathBuf,
    /// Where downloads land.
    pub downloads: PathBuf,
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
        let downloads = profile.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
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
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
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
            downloads,
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

    /// The address the page shows now.
    pub async fn url(&self) -> String {
        let url = self
            .command(reqwest::Method::GET, "/url", Value::Null)
            .await;
        url.as_str().unwrap_or_default().to_owned()
    }

    /// Presses keys as a person would, one after another, on whatever has the focus.
    /// `Key::TAB` and `Key::ENTER` are the keys of those names.
    pub async fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for key in text.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", body).await;
    }

    /// Presses Tab until the focused element's text or label contains `what` (at most
    /// `limit` times): whatever a mouse can use, the keyboard reaches.
    pub async fn tab_to(&self, what: &str, limit: usize) {
        let describe = "const e = document.activeElement; \
            if (!e || e === document.body) return ''; \
            return [e.textContent, e.getAttribute('aria-label'), e.name, \
            e.closest('label') && e.closest('label').textContent].filter(Boolean).join(' ')";
        let mut seen = Vec::new();
        for _ in 0..limit {
            self.keys(Key::TAB).await;
            let focused = self.eval(describe).await;
            let focused = focused.as_str().unwrap_or_default().to_owned();
            if focused.contains(what) {
                return;
            }
            seen.push(focused);
        }
        panic!("Tab never reached {what:?}; it reached {seen:?}");
    }

    /// What the page keeps in its storage (local and session): it must hold no secret.
    pub async fn storage(&self) -> Value {
        self.eval("return [JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
            .await
    }

    /// The cookies the browser holds for the page, as WebDriver describes them.
    pub async fn cookies(&self) -> Vec<Value> {
        let cookies = self
            .command(reqwest::Method::GET, "/cookie", Value::Null)
            .await;
        cookies.as_array().cloned().unwrap_or_default()
    }

    /// Waits (at most `secs`) for a download that ends in `suffix`; answers its text.
    pub async fn downloaded(&self, suffix: &str, secs: u64) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let found = std::fs::read_dir(&self.downloads)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(path) = found {
                return std::fs::read_to_string(path).unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no download ending in {suffix}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (the body of an async function) in the page and answers what its
    /// promise resolves to.
    pub async fn eval_async(&self, script: &str) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1]; (async () => {{ {script} }})().then(done, e => done(String(e)));"
        );
        let body = json!({"script": wrapped, "args": []});
        self.command(reqwest::Method::POST, "/execute/async", body)
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
