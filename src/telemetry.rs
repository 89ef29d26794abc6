use tracing_subscriber::{EnvFilter, fmt};

/// Logs to stderr: human-readable by default, JSON lines with `HUB_LOG_FORMAT=json`.
/// `RUST_LOG` filters as usual.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var("HUB_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
