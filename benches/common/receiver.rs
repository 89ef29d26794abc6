//! A webhook receiver for the load generators: it checks each POST's signature as a
//! partner's server would (HMAC-SHA256 over "<t>.<body>"), counts the events, and keeps each
//! event's lag from its creation in the ledger to its arrival here.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
struct Seen {
    secrets: Mutex<HashMap<String, String>>,
    lags_ms: Mutex<Vec<u32>>,
    events: AtomicU64,
    bad_signatures: AtomicU64,
}

pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Seen>,
}

#[derive(serde::Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    events: Vec<Event<'a>>,
}

#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(rename = "createdAt")]
    created_at: &'a str,
}

fn signed(secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else { return false };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex == v1
}

async fn receive(
    State(seen): State<Arc<Seen>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let now = Utc::now();
    let secret = seen.secrets.lock().unwrap().get(&name).cloned();
    let header = headers.get("hub-signature").and_then(|v| v.to_str().ok());
    if !secret.is_some_and(|s| signed(&s, header, &body)) {
        seen.bad_signatures.fetch_add(1, Ordering::Relaxed);
    }
    let parsed: Body = serde_json::from_slice(&body).expect("a delivery's body");
    let lags: Vec<u32> = parsed
        .events
        .iter()
        .map(|e| {
            let created = DateTime::parse_from_rfc3339(e.created_at).expect("createdAt");
            (now - created.with_timezone(&Utc))
                .num_milliseconds()
                .max(0) as u32
        })
        .collect();
    seen.events.fetch_add(lags.len() as u64, Ordering::Relaxed);
    seen.lags_ms.lock().unwrap().extend(lags);
    "ok"
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let router = Router::new()
            .route("/hooks/{name}", post(receive))
            .with_state(seen.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Receiver { addr, seen }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    pub fn know_secret(&self, name: &str, secret: &str) {
        let mut secrets = self.seen.secrets.lock().unwrap();
        secrets.insert(name.to_owned(), secret.to_owned());
    }

    /// The lags (ms) of the events received since the last call.
    pub fn take_lags(&self) -> Vec<u32> {
        std::mem::take(&mut *self.seen.lags_ms.lock().unwrap())
    }

    pub fn events(&self) -> u64 {
        self.seen.events.load(Ordering::Relaxed)
    }

    pub fn bad_signatures(&self) -> u64 {
        self.seen.bad_signatures.load(Ordering::Relaxed)
    }
}
