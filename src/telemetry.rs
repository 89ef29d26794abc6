use tracing_subscriber::{EnvFilter, fmt};

/// Logs to stderr: human-readable by default, JSON lines with `HUB_LOG_FORMAT=json`.
/// `RUST_LOG` filters as usual.
pub fn init() {
    init_with_default("info");
}

/// As [`init`], with another default level (tests log warnings only unless `RUST_LOG` says).
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var("HUB_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
