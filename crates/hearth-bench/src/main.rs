//! Benchmarks of the real `hearth` binary against the fake OpenAI provider.
//!
//! Measures, as BENCHMARKS.md reports them:
//! - time from process start until the port accepts and until `/readyz` answers 200;
//! - resident memory (RSS) when idle after start, and after the message runs;
//! - the gateway's own time per message through `POST /v1/chat/completions`, with the provider
//!   answering at once: from the `Server-Timing` header (`gateway` = handler time minus model
//!   time) and from the client (latency through the gateway minus latency straight to the fake),
//!   at concurrency 1 and 64, with throughput.
//!
//! Run: `cargo run --release -p hearth-bench -- --binary target/release/hearth`.
//! The gateway runs with the config of issue #2 (port 18789, fake provider at 127.0.0.1:18900);
//! when those ports are taken, free ones are used instead.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hearth_test_utils::FakeOpenAi;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// The hearth binary to measure.
    #[arg(long, default_value = "target/release/hearth")]
    binary: PathBuf,
    /// Gateway starts to time.
    #[arg(long, default_value_t = 10)]
    starts: usize,
    /// Messages at concurrency 1 (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Messages per worker at concurrency 64.
    #[arg(long, default_value_t = 50)]
    per_worker: usize,
    /// Seconds to let the gateway settle before reading idle memory.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Write the figures as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

const TOKEN: &str = "bench-token-123";

fn free_port(preferred: u16) -> u16 {
    if std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return preferred;
    }
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(preferred)
}

fn write_config(home: &std::path::Path, port: u16, fake_port: u16) -> anyhow::Result<()> {
    let config = format!(
        r#"{{
  gateway: {{ port: {port}, bind: "loopback",
             auth: {{ mode: "token", token: "{TOKEN}" }},
             http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{
    baseUrl: "http://127.0.0.1:{fake_port}/v1", apiKey: "sk-fake", api: "openai-completions",
    models: [ {{ id: "fake-model", name: "Fake", contextWindow: 128000, maxTokens: 4096 }} ] }} }} }},
}}
"#
    );
    std::fs::write(home.join("hearth.json"), config)?;
    Ok(())
}

struct Gateway {
    child: Child,
}

impl Gateway {
    fn spawn(binary: &std::path::Path, home: &std::path::Path) -> anyhow::Result<Self> {
        let child = Command::new(binary)
            .args(["gateway", "run"])
            .env("HEARTH_HOME", home)
            .env("HEARTH_SECRETS_BACKEND", "file")
            .env("HEARTH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child })
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(0)
    }

    fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )?;
        self.child.wait()?;
        Ok(started.elapsed())
    }
}

/// RSS and its peak in KiB, from /proc.
fn memory_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// One timed request; answers (client latency ms, gateway time ms from Server-Timing).
async fn one(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    token: Option<&str>,
) -> anyhow::Result<(f64, Option<f64>)> {
    let started = Instant::now();
    let mut request = client.post(url).json(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await?;
    let timing = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status();
    let bytes = response.bytes().await?;
    let latency = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    let gateway = timing.and_then(|t| {
        t.split(',').find_map(|part| {
            part.trim()
                .strip_prefix("gateway;dur=")
                .and_then(|v| v.parse().ok())
        })
    });
    Ok((latency, gateway))
}

struct Series {
    latency: Vec<f64>,
    gateway: Vec<f64>,
    elapsed: Duration,
}

async fn run_load(
    url: &str,
    body: Value,
    token: Option<&str>,
    concurrency: usize,
    per_worker: usize,
) -> anyhow::Result<Series> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let body = Arc::new(body);
    let started = Instant::now();
    let mut handles = Vec::new();
    for worker in 0..concurrency {
        let (client, body, url, token) = (
            client.clone(),
            body.clone(),
            url.to_owned(),
            token.map(str::to_owned),
        );
        handles.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(per_worker);
            for i in 0..per_worker {
                let mut b = (*body).clone();
                if let Some(user) = b.get("user").and_then(Value::as_str) {
                    // Persistent runs: one session per worker, so runs of a worker serialise only on themselves.
                    b["user"] = json!(format!("{user}-{worker}"));
                }
                b["messages"][0]["content"] = json!(format!("hello {worker}-{i}"));
                out.push(one(&client, &url, &b, token.as_deref()).await?);
            }
            anyhow::Ok(out)
        }));
    }
    let mut latency = Vec::new();
    let mut gateway = Vec::new();
    for h in handles {
        for (l, g) in h.await?? {
            latency.push(l);
            gateway.extend(g);
        }
    }
    Ok(Series {
        latency: sorted(latency),
        gateway: sorted(gateway),
        elapsed: started.elapsed(),
    })
}

fn report(name: &str, s: &Series, baseline: Option<&Series>) -> Value {
    let n = s.latency.len();
    let (b50, b99) = baseline.map_or((0.0, 0.0), |b| {
        (percentile(&b.latency, 50.0), percentile(&b.latency, 99.0))
    });
    let v = json!({
        "name": name,
        "messages": n,
        "throughput_per_s": n as f64 / s.elapsed.as_secs_f64(),
        "latency_ms": { "p50": percentile(&s.latency, 50.0), "p99": percentile(&s.latency, 99.0) },
        "gateway_ms_server_timing": { "p50": percentile(&s.gateway, 50.0), "p99": percentile(&s.gateway, 99.0) },
        "overhead_ms_vs_direct": { "p50": percentile(&s.latency, 50.0) - b50, "p99": percentile(&s.latency, 99.0) - b99 },
    });
    println!(
        "{name:<34} n={n:<6} {:>8.0}/s  latency p50 {:>6.3} p99 {:>6.3} ms  gateway p50 {:>6.3} p99 {:>6.3} ms  vs direct p50 {:>+6.3} p99 {:>+6.3} ms",
        v["throughput_per_s"].as_f64().unwrap_or(0.0),
        percentile(&s.latency, 50.0),
        percentile(&s.latency, 99.0),
        percentile(&s.gateway, 50.0),
        percentile(&s.gateway, 99.0),
        percentile(&s.latency, 50.0) - b50,
        percentile(&s.latency, 99.0) - b99,
    );
    v
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.binary.exists() {
        bail!(
            "{} does not exist: build it first (cargo build --release -p hearth-cli)",
            args.binary.display()
        );
    }
    let fake_port = free_port(18900);
    let fake = FakeOpenAi::start_on(SocketAddr::from(([127, 0, 0, 1], fake_port))).await?;
    let port = free_port(18789);
    let home = tempfile::tempdir()?;
    write_config(home.path(), port, fake_port)?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;

    // Start-up: until the port accepts, and until /readyz says ready.
    let mut accept_ms = Vec::new();
    let mut ready_ms = Vec::new();
    let mut shutdown_ms = Vec::new();
    for _ in 0..args.starts {
        let started = Instant::now();
        let gateway = Gateway::spawn(&args.binary, home.path())?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the gateway did not open its port within 10 s");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        accept_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        loop {
            let ok = http
                .get(format!("{base}/readyz"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        shutdown_ms.push(gateway.stop()?.as_secs_f64() * 1000.0);
    }
    let first_ready = ready_ms.first().copied().unwrap_or(f64::NAN);
    let (accept_ms, ready_ms, shutdown_ms) =
        (sorted(accept_ms), sorted(ready_ms), sorted(shutdown_ms));
    println!(
        "start (n={}): port accepts p50 {:.1} ms, ready p50 {:.1} ms, max {:.1} ms (first start, creating the database: {:.1} ms); shutdown p50 {:.1} ms",
        args.starts,
        percentile(&accept_ms, 50.0),
        percentile(&ready_ms, 50.0),
        ready_ms.last().copied().unwrap_or(f64::NAN),
        first_ready,
        percentile(&shutdown_ms, 50.0),
    );

    // Idle memory, then the message runs.
    let gateway = Gateway::spawn(&args.binary, home.path())?;
    loop {
        if http
            .get(format!("{base}/readyz"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let (idle_rss, _) = memory_kib(gateway.pid());
    println!(
        "idle RSS after {} s: {:.1} MiB",
        args.settle,
        idle_rss as f64 / 1024.0
    );

    let url = format!("{base}/v1/chat/completions");
    let direct_url = format!("{}/chat/completions", fake.base_url());
    let stateless =
        json!({ "model": "hearth", "messages": [{ "role": "user", "content": "hello" }] });
    let persistent = json!({ "model": "hearth", "user": "bench", "messages": [{ "role": "user", "content": "hello" }] });
    let direct =
        json!({ "model": "fake-model", "messages": [{ "role": "user", "content": "hello" }] });

    let warm = (args.messages / 10).max(10);
    run_load(&direct_url, direct.clone(), None, 1, warm).await?;
    run_load(&url, stateless.clone(), Some(TOKEN), 1, warm).await?;
    let base1 = run_load(&direct_url, direct.clone(), None, 1, args.messages).await?;
    let s1 = run_load(&url, stateless.clone(), Some(TOKEN), 1, args.messages).await?;
    let p1 = run_load(&url, persistent.clone(), Some(TOKEN), 1, args.messages).await?;
    let base64 = run_load(&direct_url, direct, None, 64, args.per_worker).await?;
    let s64 = run_load(&url, stateless, Some(TOKEN), 64, args.per_worker).await?;
    let p64 = run_load(&url, persistent, Some(TOKEN), 64, args.per_worker).await?;
    let results = vec![
        report("direct to fake provider, c=1", &base1, None),
        report("gateway stateless, c=1", &s1, Some(&base1)),
        report("gateway session (user), c=1", &p1, Some(&base1)),
        report("direct to fake provider, c=64", &base64, None),
        report("gateway stateless, c=64", &s64, Some(&base64)),
        report("gateway session (user), c=64", &p64, Some(&base64)),
    ];
    let (after_rss, peak) = memory_kib(gateway.pid());
    println!(
        "RSS after the runs: {:.1} MiB (peak {:.1} MiB)",
        after_rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    gateway.stop()?;

    if let Some(path) = args.json {
        let doc = json!({
            "start": {
                "accept_ms_p50": percentile(&accept_ms, 50.0),
                "ready_ms_p50": percentile(&ready_ms, 50.0),
                "ready_ms_max": ready_ms.last(),
                "first_ready_ms": first_ready,
                "shutdown_ms_p50": percentile(&shutdown_ms, 50.0),
            },
            "idle_rss_kib": idle_rss,
            "after_rss_kib": after_rss,
            "peak_rss_kib": peak,
            "runs": results,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
