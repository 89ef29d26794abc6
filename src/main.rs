use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use coalition_hub::{
    AppState, Config,
    auth::{Principal, Scopes, TokenRequest},
    db, demo, graphql, server,
    services::{
        expiry,
        leaderboards::{rebuild, relay},
        settlement, verify,
    },
    telemetry,
};
use uuid::Uuid;

/// Coalition loyalty hub.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command_,
}

#[derive(Subcommand)]
enum Command_ {
    /// Serve the GraphQL API (configuration from the environment; see docs/OPERATIONS.md).
    Serve {
        /// Run pending migrations before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Run pending database migrations.
    Migrate,
    /// Development: private PostgreSQL and Redis (unless DATABASE_URL and REDIS_URL are set),
    /// migrations, the demo coalition, tokens printed, then serve.
    Dev,
    /// Mint a token for development and operations.
    Token {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Partner id, for partner tokens.
        #[arg(long)]
        partner: Option<Uuid>,
        /// Member id, for member tokens.
        #[arg(long)]
        member: Option<Uuid>,
        /// Space-separated partner scopes (all of them when omitted).
        #[arg(long)]
        scope: Option<String>,
        /// Operator name, for operator tokens.
        #[arg(long, default_value = "cli-operator")]
        subject: String,
        /// Lifetime in seconds (the configured lifetime for the role when omitted).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Make an Ed25519 signing key pair in --dir (`<kid>.pem`, `<kid>.pub.pem`) and
    /// `keys.json` naming it, for `HUB_JWT_KEYS=@<dir>/keys.json`.
    Keygen {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "hub-ed25519")]
        kid: String,
        /// Keep the keys already in --dir (a container's first start makes them once).
        #[arg(long)]
        if_missing: bool,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Expire past-due lot points (breakage) and holds now, with progress.
    Expire,
    /// Check every ledger invariant over the whole database; exits 1 on any violation.
    Verify,
    /// Close the settlement period ending at --cutoff (operator), with progress; prints the
    /// statement's id, hash and payment plan.
    Settle {
        /// RFC 3339 time in the past, e.g. 2026-11-01T00:00:00Z.
        #[arg(long)]
        cutoff: chrono::DateTime<chrono::Utc>,
    },
    /// Settlement statements.
    Settlement {
        #[command(subcommand)]
        command: SettlementCommand,
    },
    /// Ambassador leaderboards in Redis.
    Leaderboards {
        #[command(subcommand)]
        command: LeaderboardsCommand,
    },
}

#[derive(Subcommand)]
enum LeaderboardsCommand {
    /// Rebuild every board from PostgreSQL into new keys, swapped in at once (progress on
    /// stderr). The relay of `serve` does this by itself when Redis lost the boards.
    Rebuild,
    /// Compare every score in Redis with PostgreSQL; exits 1 on any drift.
    Check,
    /// Apply the outbox now (what the relay of `serve` does every interval).
    Relay,
}

#[derive(Subcommand)]
enum SettlementCommand {
    /// Closed statements, newest first.
    List,
    /// A statement as CSV (default) or as its canonical JSON (what contentHash covers).
    Export {
        id: Uuid,
        /// Only the lines this partner may see.
        #[arg(long)]
        partner: Option<Uuid>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Operator,
    Partner,
    Member,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        Command_::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command_::Migrate => {
            let config = Config::from_env(true)?;
            let applied = db::migrate(&config.database_url).await?;
            println!("applied {} migration(s) and SQL file(s)", applied.len());
            Ok(())
        }
        Command_::Serve { migrate } => {
            let config = Config::from_env(false)?;
            refuse_development_keys(&config)?;
            if migrate {
                db::migrate(&config.database_url).await?;
            }
            run_server(AppState::new(config)?, None).await
        }
        Command_::Dev => dev().await,
        Command_::Keygen {
            dir,
            kid,
            if_missing,
        } => keygen(&dir, &kid, if_missing),
        Command_::Expire => expire().await,
        Command_::Verify => verify_command().await,
        Command_::Settle { cutoff } => settle(cutoff).await,
        Command_::Settlement { command } => settlement_command(command).await,
        Command_::Leaderboards { command } => leaderboards_command(command).await,
        Command_::Token {
            role,
            partner,
            member,
            scope,
            subject,
            ttl,
        } => token(role, partner, member, scope, subject, ttl),
    }
}

/// `hub expire`: hold release, pending release and expiry now, with progress.
async fn expire() -> anyhow::Result<()> {
    let state = AppState::new(Config::from_env(true)?)?;
    let run = expiry::run(
        &state.db,
        Some(&state.ledger.publisher),
        chrono::Utc::now(),
        |p| {
            eprintln!(
                "expire: {} holds released, {} pending points released, {} members, {} points expired so far",
                p.holds_released, p.points_released, p.members_expired, p.points_expired
            );
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("expiry failed: {e:?}"))?;
    state.ledger.publisher.flush().await;
    println!(
        "expired: {} holds released, {} pending points of {} members released, {} points of {} members expired",
        run.holds_released,
        run.points_released,
        run.members_released,
        run.points_expired,
        run.members_expired
    );
    Ok(())
}

/// `hub verify`: the ledger's invariants; exits 1 when one is violated.
async fn verify_command() -> anyhow::Result<()> {
    let state = AppState::new(Config::from_env(true)?)?;
    let report = verify::run(&state.db)
        .await
        .map_err(|e| anyhow::anyhow!("verify could not run: {e:?}"))?;
    print!("{report}");
    if report.is_clean() {
        println!("all {} invariants hold", report.checks.len());
        Ok(())
    } else {
        println!("INVARIANTS VIOLATED");
        std::process::exit(1);
    }
}

/// `hub token`: mints a token with the configured keys.
fn token(
    role: RoleArg,
    partner: Option<Uuid>,
    member: Option<Uuid>,
    scope: Option<String>,
    subject: String,
    ttl: Option<u64>,
) -> anyhow::Result<()> {
    // Never the committed development key by default: a token minted with it is
    // worth nothing outside `dev` (which prints its own tokens).
    let config = Config::from_env(false)?;
    let keys = coalition_hub::auth::KeySet::from_config(&config.jwt)?;
    let (principal, default_ttl) = match role {
        RoleArg::Operator => (
            Principal::Operator { subject },
            config.jwt.operator_token_ttl,
        ),
        RoleArg::Partner => (
            Principal::Partner {
                partner_id: partner.context("--partner is required for partner tokens")?,
                scopes: match scope {
                    Some(text) => Scopes::parse_strict(&text)?,
                    None => Scopes::all(),
                },
            },
            config.jwt.partner_token_ttl,
        ),
        RoleArg::Member => (
            Principal::Member {
                member_id: member.context("--member is required for member tokens")?,
            },
            config.jwt.member_token_ttl,
        ),
    };
    let minted = keys.mint(TokenRequest {
        principal,
        ttl: ttl.map(Duration::from_secs).unwrap_or(default_ttl),
    })?;
    println!("{}", minted.token);
    Ok(())
}

fn keygen(dir: &std::path::Path, kid: &str, if_missing: bool) -> anyhow::Result<()> {
    let keys_json = dir.join("keys.json");
    if if_missing && keys_json.exists() {
        println!("keygen: {} exists; keeping its keys", keys_json.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let (private_pem, public_pem) = coalition_hub::auth::generate_ed25519();
    let private_file = dir.join(format!("{kid}.pem"));
    let public_file = dir.join(format!("{kid}.pub.pem"));
    write_private(&private_file, &private_pem)?;
    std::fs::write(&public_file, public_pem)?;
    let spec = serde_json::json!([{
        "kid": kid, "alg": "EdDSA", "signing": true,
        "private_key_file": private_file, "public_key_file": public_file,
    }]);
    std::fs::write(&keys_json, serde_json::to_string_pretty(&spec)?)?;
    println!(
        "keygen: wrote {} and {}",
        private_file.display(),
        public_file.display()
    );
    println!("HUB_JWT_KEYS=@{}", keys_json.display());
    Ok(())
}

/// Creates the private key file readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// `serve` with the key committed in the repository would accept tokens anyone can sign.
fn refuse_development_keys(config: &Config) -> anyhow::Result<()> {
    let allowed = std::env::var("HUB_ALLOW_DEVELOPMENT_KEYS").is_ok_and(|v| v == "true");
    if coalition_hub::config::uses_development_key(&config.jwt) && !allowed {
        bail!(
            "HUB_JWT_KEYS names the development key committed in the repository: anyone with \
             the repository can sign operator tokens with it. Make a key pair with `hub keygen`, \
             or set HUB_ALLOW_DEVELOPMENT_KEYS=true for a development run."
        );
    }
    Ok(())
}

fn cli_operator() -> Principal {
    Principal::Operator {
        subject: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "operator".into())
        ),
    }
}

async fn settle(cutoff: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let state = AppState::new(Config::from_env(true)?)?;
    let started = std::time::Instant::now();
    let view = settlement::close(
        &state.settlement,
        &state.config.currency,
        &cli_operator(),
        cutoff,
        &mut |p| {
            eprintln!(
                "settle: [{:>2}/{}] {} records aggregated ({:.1} s)",
                p.chunk,
                p.chunks,
                p.records,
                started.elapsed().as_secs_f64()
            );
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("closing the period failed: {e}"))?;
    let period = view
        .period
        .as_ref()
        .expect("a closed statement has a period");
    let s = &view.statement;
    println!("statement {}", period.id);
    println!(
        "period    {} .. {}",
        s.period_start.to_rfc3339(),
        s.period_end.to_rfc3339()
    );
    println!("records   {}", s.record_count);
    println!("hash      {}", view.content_hash);
    for t in &s.transfers {
        println!(
            "transfer  {} -> {}: {} {}",
            s.name_of(t.from),
            s.name_of(t.to),
            coalition_hub::domain::settlement::format_minor(t.amount_minor, s.minor_units),
            s.currency
        );
    }
    Ok(())
}

async fn leaderboards_command(command: LeaderboardsCommand) -> anyhow::Result<()> {
    let state = AppState::new(Config::from_env(true)?)?;
    match command {
        LeaderboardsCommand::Rebuild => {
            let report = rebuild::rebuild(&state.leaderboards, |p| {
                let total = p.ambassadors_total.max(1);
                let done = p.ambassadors_done.min(total);
                let filled = (done * 30 / total) as usize;
                eprint!(
                    "\rrebuild [{}{}] {:>3}% {} of {} ambassadors, {} scores",
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    done * 100 / total,
                    p.ambassadors_done,
                    p.ambassadors_total,
                    p.scores
                );
            })
            .await
            .map_err(|e| anyhow::anyhow!("rebuild failed: {e:?}"))?;
            eprintln!();
            println!(
                "rebuilt {} boards: {} scores of {} ambassadors in {:.1} s",
                report.boards,
                report.scores,
                report.ambassadors,
                report.elapsed.as_secs_f64()
            );
            Ok(())
        }
        LeaderboardsCommand::Check => {
            let report = rebuild::check(&state.leaderboards)
                .await
                .map_err(|e| anyhow::anyhow!("check could not run: {e:?}"))?;
            println!(
                "checked {} scores on {} boards: {} wrong or missing in Redis, {} extra",
                report.scores, report.boards, report.wrong, report.extra
            );
            println!(
                "projection version: PostgreSQL {}, Redis {}",
                report.postgres_version,
                report
                    .redis_version
                    .map_or("none (flushed or never built)".into(), |v| v.to_string())
            );
            if report.outbox_pending > 0 {
                println!(
                    "{} activities wait in the outbox: the boards lag by these until the relay runs",
                    report.outbox_pending
                );
            }
            for example in &report.examples {
                println!("  {example}");
            }
            if report.drift() {
                println!("DRIFT: run `hub leaderboards rebuild`");
                std::process::exit(1);
            }
            println!("Redis matches PostgreSQL");
            Ok(())
        }
        LeaderboardsCommand::Relay => {
            let run = relay::run_once(&state.leaderboards, true)
                .await
                .map_err(|e| anyhow::anyhow!("relay failed: {e:?}"))?;
            println!(
                "applied {} outbox rows{}",
                run.applied,
                if run.rebuilt {
                    " (after a rebuild)"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

async fn settlement_command(command: SettlementCommand) -> anyhow::Result<()> {
    let state = AppState::new(Config::from_env(true)?)?;
    match command {
        SettlementCommand::List => {
            let views = settlement::statements(&state.settlement, &cli_operator(), None, 1000)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("id,period_start,period_end,records,content_hash");
            for v in views {
                let p = v.period.expect("closed");
                println!(
                    "{},{},{},{},{}",
                    p.id,
                    p.period_start.to_rfc3339(),
                    p.cutoff.to_rfc3339(),
                    p.record_count,
                    p.content_hash
                );
            }
        }
        SettlementCommand::Export { id, partner, json } => {
            let principal = match partner {
                Some(partner_id) => Principal::Partner {
                    partner_id,
                    scopes: Scopes::parse_strict("settlement:read")?,
                },
                None => cli_operator(),
            };
            let view = settlement::statement(&state.settlement, &principal, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", view.statement.canonical_json());
            } else {
                print!("{}", view.statement.to_csv());
            }
        }
    }
    Ok(())
}

async fn run_server(state: AppState, ready: Option<demo::DemoCoalition>) -> anyhow::Result<()> {
    let listen = state.config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap_or(listen)));
    if let Some(demo) = ready {
        demo.print(&base);
    }
    tracing::info!(%base, "serving");
    server::serve(state, listener).await
}

/// Starts the private services through scripts/services.sh; returns the database and Redis
/// URLs from its `export` lines.
fn start_private_services() -> anyhow::Result<(String, String)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("up")
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!("{} up failed", script.display());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let exported = |name: &str| {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
            .with_context(|| format!("services.sh did not print {name}"))
    };
    Ok((exported("DATABASE_URL")?, exported("REDIS_URL")?))
}

async fn dev() -> anyhow::Result<()> {
    let mut config = Config::from_env(true)?;
    if std::env::var_os("DATABASE_URL").is_none() || std::env::var_os("REDIS_URL").is_none() {
        (config.database_url, config.redis_url) = start_private_services()?;
    }
    let applied = db::migrate(&config.database_url).await?;
    tracing::info!(applied = applied.len(), "migrations up to date");
    let state = AppState::new(config)?;
    let demo = demo::seed(&state)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo coalition: {e:?}"))?;
    run_server(state, Some(demo)).await
}
