//! The HTTP client of webhook deliveries: it connects only where the address policy allows,
//! checked on the addresses DNS answered (the connection uses exactly those, so a name that
//! resolves differently a moment later cannot take it elsewhere), follows no redirects,
//! uses no proxy from the environment, and gives up after its timeouts.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{config::WebhookConfig, domain::webhook::AddressPolicy};

/// The answer kept of each attempt.
pub(crate) const EXCERPT_BYTES: usize = 1024;

/// What came of one POST.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) status: Option<u16>,
    pub latency: Duration,
    /// The first KiB of the answer (lossy UTF-8).
    pub excerpt: Option<String>,
    /// Why no answer came (connect, timeout, refused address), in words for the partner.
    pub error: Option<String>,
}

impl Sent {
    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

struct CheckedResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.refuses(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let why = found
                    .first()
                    .and_then(|a| policy.refuses(a.ip()))
                    .unwrap_or("not resolvable");
                return Err(
                    format!("{host} resolves to {why}, which webhooks may not call").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[derive(Clone)]
pub(crate) struct WebhookClient {
    http: reqwest::Client,
    policy: AddressPolicy,
}

impl WebhookClient {
    pub(crate) fn new(config: &WebhookConfig) -> anyhow::Result<WebhookClient> {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: config.addresses,
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "coalition-hub-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(WebhookClient {
            http,
            policy: config.addresses,
        })
    }

    /// POSTs `body` with the given headers; never fails, an error is part of the outcome.
    pub(crate) async fn post(&self, url: &str, headers: &[(&str, String)], body: String) -> Sent {
        let started = Instant::now();
        let failed = |error: String| Sent {
            status: None,
            latency: started.elapsed(),
            excerpt: None,
            error: Some(error),
        };
        // A name is checked when it resolves; an address literal never does.
        let parsed = match reqwest::Url::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => return failed(format!("invalid URL: {e}")),
        };
        let literal: Option<IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(why) = literal.and_then(|ip| self.policy.refuses(ip)) {
            return failed(format!(
                "the URL's address is {why}, which webhooks may not call"
            ));
        }
        let mut request = self
            .http
            .post(parsed)
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        let mut error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Sent {
            status: Some(status),
            latency: started.elapsed(),
            excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
            error,
        }
    }
}

/// The error in words, with its causes (reqwest's own text hides the resolver's reason).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name is checked on the addresses it resolves to: `localhost` passes no URL check by
    /// its text here, and is refused once resolved, before any connection.
    #[tokio::test]
    async fn a_name_resolving_to_a_refused_address_is_never_connected_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = WebhookConfig::default();
        assert!(!config.addresses.allow_loopback);
        let client = WebhookClient::new(&config).unwrap();
        let sent = client
            .post(&format!("http://localhost:{port}/hook"), &[], "{}".into())
            .await;
        let error = sent.error.unwrap();
        assert!(error.contains("a loopback address"), "{error}");
        assert_eq!(sent.status, None);
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the hub connected anyway");
        // An address literal is refused before any request too.
        let literal = client
            .post(&format!("http://127.0.0.1:{port}/"), &[], "{}".into())
            .await;
        assert!(literal.error.unwrap().contains("loopback"));
    }
}
