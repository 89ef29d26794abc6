//! What the load generators share: scratch databases, a real `hub serve` process, latency
//! statistics and the report (a table on stdout and a CSV file).

#![allow(dead_code)]

pub mod receiver;

use std::{
    io::{self, Write},
    process::{Command, Stdio},
    time::Duration,
};

use coalition_hub::config::development_keys;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub fn database_url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.rsplit_once('/').unwrap().0)
}

/// A new, empty database `name` (dropped first if it exists); returns its URL.
pub async fn recreate(base: &str, name: &str) -> String {
    let mut admin = AsyncPgConnection::establish(base).await.unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    database_url(base, name)
}

pub struct Hub {
    child: std::process::Child,
    pub base_url: String,
    /// An operator token for `/metrics` and the operator's mutations.
    pub operator_token: String,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hub {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn keys_json() -> String {
    let keys: Vec<_> = development_keys()
        .into_iter()
        .map(|k| {
            json!({"kid": k.kid, "alg": k.alg, "signing": k.signing,
                   "private_key_file": k.private_key_file, "public_key_file": k.public_key_file})
        })
        .collect();
    serde_json::to_string(&keys).unwrap()
}

/// Starts `hub serve` (or `$HUB_BIN serve`) on `url` with the development keys and waits
/// until it answers.
pub async fn start_hub(url: &str, pool: usize, redis_prefix: &str) -> Hub {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // HUB_BIN: another build of the hub (the code before a change) under the same load.
    let binary = std::env::var("HUB_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hub").into());
    let child = Command::new(binary)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("REDIS_URL", std::env::var("REDIS_URL").unwrap())
        .env("HUB_REDIS_PREFIX", redis_prefix)
        .env("HUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("HUB_JWT_KEYS", keys_json())
        .env("HUB_ALLOW_DEVELOPMENT_KEYS", "true")
        .env("HUB_DB_POOL_SIZE", pool.to_string())
        .env("RUST_LOG", "warn")
        // A bench's few member tokens stand for thousands of members: no member budget.
        // Partners keep theirs (the default, far above a bench's rate per partner), so the
        // shared bucket's Redis round trip is part of what the ledger bench measures.
        .env("HUB_RATE_LIMIT_MEMBER_BURST", "0")
        // Webhook receivers of the benches listen on this machine.
        .env("HUB_WEBHOOK_ALLOW_LOOPBACK", "true")
        .stdout(Stdio::null())
        .spawn()
        .expect("the hub binary starts");
    let config = coalition_hub::Config::development(url.into(), String::new());
    let operator_token = coalition_hub::auth::KeySet::from_config(&config.jwt)
        .unwrap()
        .mint(coalition_hub::auth::TokenRequest {
            principal: coalition_hub::auth::Principal::Operator {
                subject: "bench".into(),
            },
            ttl: Duration::from_secs(3600),
        })
        .unwrap()
        .token;
    let hub = Hub {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
        operator_token,
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{}/healthz", hub.base_url))
            .send()
            .await
            .is_ok()
        {
            return hub;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the hub did not come up");
}

/// Resident memory of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user and system) that a process has used so far. Linux.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    process_cpu(&pid.to_string()).map_or(0.0, |(_, cpu)| cpu)
}

/// The CPU seconds each process named `postgres` has used so far (the server and its
/// backends, autovacuum included), by pid. Linux.
pub struct PostgresCpu(std::collections::HashMap<String, f64>);

impl PostgresCpu {
    pub fn now() -> PostgresCpu {
        PostgresCpu(
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let pid = entry.file_name().to_str()?.to_string();
                    let (name, cpu) = process_cpu(&pid)?;
                    (name == "postgres").then_some((pid, cpu))
                })
                .collect(),
        )
    }

    /// The CPU seconds PostgreSQL used from `earlier` to now: a process that started since
    /// counts whole. A process that ended since counts nothing (its last moments are lost),
    /// rather than taking its earlier CPU off the total.
    pub fn since(&self, earlier: &PostgresCpu) -> f64 {
        self.0
            .iter()
            .map(|(pid, cpu)| cpu - earlier.0.get(pid).copied().unwrap_or(0.0))
            .sum()
    }
}

/// The whole machine's CPU time so far, from `/proc/stat` (all cores added up). Linux.
#[derive(Clone, Copy, Default)]
pub struct MachineCpu {
    /// seconds spent running anything: user, nice, system, interrupts
    pub busy: f64,
    /// seconds the hypervisor gave this machine's cores to someone else
    pub steal: f64,
    /// all seconds, idle and waiting included
    pub total: f64,
}

impl MachineCpu {
    pub fn now() -> MachineCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<f64> = stat
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("cpu "))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // user nice system idle iowait irq softirq steal (guest time is inside user)
        let field = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / 100.0;
        MachineCpu {
            busy: field(0) + field(1) + field(2) + field(5) + field(6),
            steal: field(7),
            total: (0..8).map(field).sum(),
        }
    }

    /// The time from `earlier` to `self`.
    pub fn since(self, earlier: MachineCpu) -> MachineCpu {
        MachineCpu {
            busy: self.busy - earlier.busy,
            steal: self.steal - earlier.steal,
            total: self.total - earlier.total,
        }
    }

    /// The hypervisor's share of this time, in percent.
    pub fn steal_pct(self) -> f64 {
        100.0 * self.steal / self.total.max(1e-9)
    }

    pub fn add(self, other: MachineCpu) -> MachineCpu {
        MachineCpu {
            busy: self.busy + other.busy,
            steal: self.steal + other.steal,
            total: self.total + other.total,
        }
    }
}

/// A process's name and CPU seconds, from `/proc/<pid>/stat`.
fn process_cpu(pid: &str) -> Option<(String, f64)> {
    let ticks_per_second = 100.0; // USER_HZ: the unit of /proc/*/stat on Linux
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ...": the fields after the name start at the state.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((name, ticks / ticks_per_second))
}

pub struct Measured {
    pub name: String,
    pub ops: usize,
    pub errors: usize,
    pub seconds: f64,
    /// sorted
    pub latencies_us: Vec<u32>,
}

impl Measured {
    pub fn new(name: &str, mut latencies_us: Vec<u32>, errors: usize, seconds: f64) -> Measured {
        latencies_us.sort_unstable();
        Measured {
            name: name.into(),
            ops: latencies_us.len() - errors,
            errors,
            seconds,
            latencies_us,
        }
    }

    /// Runs of one operation as one: their requests and their measured time added up.
    pub fn combined(name: &str, parts: Vec<Measured>) -> Measured {
        let errors = parts.iter().map(|m| m.errors).sum();
        let seconds = parts.iter().map(|m| m.seconds).sum();
        let latencies = parts.into_iter().flat_map(|m| m.latencies_us).collect();
        Measured::new(name, latencies, errors, seconds)
    }

    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// An extra report column: its name and its value for a result.
pub type Column<'a> = (&'a str, &'a dyn Fn(&Measured) -> String);

/// Prints the results as a table and writes them as CSV, with `extra` columns.
pub fn report(results: &[Measured], clients: usize, extra: &[Column], csv_path: &str) {
    print!(
        "{:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "operation", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    );
    for (name, _) in extra {
        print!(" {name:>8}");
    }
    println!();
    let mut csv =
        String::from("operation,clients,seconds,ops,errors,ops_per_s,p50_ms,p95_ms,p99_ms,max_ms");
    for (name, _) in extra {
        csv += &format!(",{name}");
    }
    csv += "\n";
    for m in results {
        print!(
            "{:<34} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
            m.name,
            m.throughput(),
            m.percentile_ms(0.5),
            m.percentile_ms(0.95),
            m.percentile_ms(0.99),
            m.percentile_ms(1.0),
            m.errors,
        );
        csv += &format!(
            "{},{},{},{},{},{:.1},{:.2},{:.2},{:.2},{:.2}",
            m.name,
            clients,
            m.seconds,
            m.ops,
            m.errors,
            m.throughput(),
            m.percentile_ms(0.5),
            m.percentile_ms(0.95),
            m.percentile_ms(0.99),
            m.percentile_ms(1.0),
        );
        for (_, value) in extra {
            let v = value(m);
            print!(" {v:>8}");
            csv += &format!(",{v}");
        }
        println!();
        csv += "\n";
    }
    if let Some(dir) = std::path::Path::new(csv_path).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::File::create(csv_path)
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    println!("\nCSV: {csv_path}");
}

/// A tiny xorshift generator per client: no shared state, no allocation.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = (seed + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// How long to drive, and with how many concurrent clients.
pub struct Load {
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// Drives `POST {base_url}/graphql` with `load.clients` concurrent clients until the time is
/// up. `request(client number, n, random)` gives each request's bearer token and JSON body.
/// Latencies are kept after the warm-up; a response with GraphQL errors counts as an error.
pub async fn drive<F>(base_url: &str, name: &str, load: &Load, request: F) -> Measured
where
    F: Fn(usize, u64, &mut dyn FnMut() -> u64) -> (String, Vec<u8>) + Send + Sync + 'static,
{
    drive_spread(&[base_url.to_owned()], name, load, request).await
}

/// As [`drive`], with the clients spread over several hub processes in turn (client `i` on
/// hub `i % n`), as a load balancer would.
pub async fn drive_spread<F>(base_urls: &[String], name: &str, load: &Load, request: F) -> Measured
where
    F: Fn(usize, u64, &mut dyn FnMut() -> u64) -> (String, Vec<u8>) + Send + Sync + 'static,
{
    let hosts: Vec<String> = base_urls
        .iter()
        .map(|url| {
            url.strip_prefix("http://")
                .expect("an http:// hub")
                .to_owned()
        })
        .collect();
    let warmup_end = std::time::Instant::now() + load.warmup;
    let end = warmup_end + load.measure;
    let request = std::sync::Arc::new(request);
    let tasks: Vec<_> = (0..load.clients)
        .map(|client_no| {
            let (host, request) = (hosts[client_no % hosts.len()].clone(), request.clone());
            tokio::spawn(async move {
                let mut client = Poster::new(host);
                let mut latencies = Vec::new();
                let (mut errors, mut n) = (0usize, 0u64);
                let mut next = xorshift(client_no as u64);
                while std::time::Instant::now() < end {
                    n += 1;
                    let (token, body) = request(client_no, n, &mut next);
                    let started = std::time::Instant::now();
                    let ok = match client.post("/graphql", &token, &body).await {
                        Ok((200, answer)) => !answer.windows(9).any(|w| w == b"\"errors\":"),
                        Ok(_) => false,
                        Err(_) => {
                            client.reset();
                            false
                        }
                    };
                    if started >= warmup_end {
                        latencies.push(started.elapsed().as_micros() as u32);
                        errors += usize::from(!ok);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    Measured::new(name, latencies, errors, load.measure.as_secs_f64())
}

/// One client's keep-alive HTTP/1.1 connection: writes a JSON POST, reads the status and the
/// body by its content-length (the hub sends one with every answer). Lean on purpose: the
/// load generator shares two cores with the hub and PostgreSQL, and reqwest's client (URL
/// parsing, header maps, a pool) took about a third of the CPU the hub spent per request.
struct Poster {
    host: String,
    connection: Option<BufReader<TcpStream>>,
    line: String,
}

impl Poster {
    fn new(host: String) -> Poster {
        Poster {
            host,
            connection: None,
            line: String::new(),
        }
    }

    /// After an error: the next request opens a new connection.
    fn reset(&mut self) {
        self.connection = None;
    }

    async fn post(&mut self, path: &str, token: &str, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let stream = TcpStream::connect(&self.host).await?;
                stream.set_nodelay(true)?;
                self.connection.insert(BufReader::new(stream))
            }
        };
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(body);
        connection.get_mut().write_all(&head).await?;

        let line = &mut self.line;
        let status = read_line(connection, line)
            .await?
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| bad("no status line"))?;
        let (mut length, mut close) = (None, false);
        loop {
            let header = read_line(connection, line).await?;
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').ok_or_else(|| bad("a bad header"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut answer = vec![0; length.ok_or_else(|| bad("no content-length"))?];
        connection.read_exact(&mut answer).await?;
        if close {
            self.reset();
        }
        Ok((status, answer))
    }
}

/// The next CRLF-terminated line, without its CRLF; an error at the end of the stream.
async fn read_line<'a>(
    connection: &mut BufReader<TcpStream>,
    line: &'a mut String,
) -> io::Result<&'a str> {
    line.clear();
    if connection.read_line(line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("HTTP answer: {what}"))
}
