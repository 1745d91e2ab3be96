//! `bench-load`: the load generator behind `scripts/bench`. N keep-alive HTTP/1.1 connections over
//! rustls send GETs back to back and one JSON line reports throughput, p50/p99 and status counts.
//! `--exec -- CMD ARGS…` instead spawns a server, reads its port from stdout and reports the time
//! from spawn to the first answered HTTPS request; with `--client TENANT,APP_ID,SECRET` that request
//! is authorized: a client-credentials token request first, then the GET with its token.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, Parser)]
#[command(name = "bench-load", about = "HTTPS load generator for scripts/bench")]
struct Args {
    /// The URL to GET (https://host:port/path?query); in --exec mode the path to GET
    /// (default /_emulator/health) on the port the command prints.
    #[arg(long)]
    url: Option<String>,
    /// The CA certificate (PEM) to trust; in --exec mode it is read once the command is listening.
    #[arg(long)]
    ca: PathBuf,
    /// A bearer token sent as `Authorization: Bearer <token>`.
    #[arg(long)]
    token: Option<String>,
    /// Number of keep-alive connections, each sending requests back to back.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Spawn the command after `--`, wait for `listening on https://HOST:PORT` on its stdout, GET
    /// until one answer arrives, print `{"first_request_ms":…}` and kill the command.
    #[arg(long, requires = "command")]
    exec: bool,
    /// In --exec mode: `TENANT,APP_ID,SECRET` — ask the command's token endpoint for an ARM token
    /// (client credentials) as soon as it listens, then GET with it; the time is to that answer.
    #[arg(long)]
    client: Option<String>,
    /// Give up on --exec after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    #[arg(last = true)]
    command: Vec<String>,
}

/// Where requests go, from a URL.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url}: only https:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{url}: bad port '{p}'"))?,
            ),
            _ => (authority, 443),
        };
        Ok(Target {
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
            path_and_query: path.into(),
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("reading {}: {e}", ca.display()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading {}: {e}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", ca.display()));
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS versions: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// One keep-alive connection: TCP (no delay), TLS, HTTP/1.1 handshake.
async fn connect<B>(tls: &TlsConnector, target: &Target) -> Result<SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(target.host.clone()).map_err(|e| format!("name: {e}"))?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A client-credentials token for ARM from `{base}/{tenant}/oauth2/v2.0/token`.
async fn client_token(tls: &TlsConnector, target: &Target, client: &str) -> Result<String, String> {
    let parts: Vec<&str> = client.split(',').collect();
    let [tenant, app, secret] = parts[..] else {
        return Err("--client is TENANT,APP_ID,SECRET".into());
    };
    let mut sender = connect::<http_body_util::Full<Bytes>>(tls, target).await?;
    let form = format!(
        "grant_type=client_credentials&client_id={app}&client_secret={secret}&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
    );
    let req = Request::post(format!("/{tenant}/oauth2/v2.0/token"))
        .header(hyper::header::HOST, target.authority())
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(http_body_util::Full::new(Bytes::from(form)))
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("token answer {status}: {e}"))?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("token answer {status}: {v}"))
}

/// Send one GET and read the whole body; the status on success.
async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    target: &Target,
    authority: &str,
    auth: Option<&str>,
) -> Result<u16, String> {
    sender.ready().await.map_err(|e| format!("ready: {e}"))?;
    let mut req =
        Request::get(target.path_and_query.as_str()).header(hyper::header::HOST, authority);
    if let Some(a) = auth {
        req = req.header(hyper::header::AUTHORIZATION, a);
    }
    let req = req
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok(status)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    total: u64,
    last_error: Option<String>,
}

/// One connection's loop: requests back to back until `end`; those started at or after `measure`
/// and finished by `end` are measured.
async fn worker(
    tls: TlsConnector,
    target: Arc<Target>,
    auth: Option<Arc<str>>,
    measure: Instant,
    end: Instant,
) -> Tally {
    let authority = target.authority();
    let mut t = Tally::default();
    let mut sender = None;
    while Instant::now() < end {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match connect(&tls, &target).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    t.errors += 1;
                    t.last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let start = Instant::now();
        let r = get(s, &target, &authority, auth.as_deref()).await;
        let done = Instant::now();
        let measured = start >= measure && done <= end;
        match r {
            Ok(status) => {
                t.total += 1;
                if measured {
                    let us = done.duration_since(start).as_micros();
                    t.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                    *t.statuses.entry(status).or_default() += 1;
                }
            }
            Err(e) => {
                if measured {
                    t.errors += 1;
                }
                t.last_error = Some(e);
                sender = None;
            }
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn load(args: &Args) -> Result<String, String> {
    let url = args.url.as_deref().ok_or("--url is required")?;
    let target = Arc::new(Target::parse(url)?);
    let tls = TlsConnector::from(client_config(&args.ca)?);
    let auth: Option<Arc<str>> = args
        .token
        .as_ref()
        .map(|t| Arc::from(format!("Bearer {}", t.trim())));
    let concurrency = args.concurrency.max(1);
    let start = Instant::now();
    let measure = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = measure + Duration::from_secs_f64(args.duration.max(0.001));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(worker(
                tls.clone(),
                target.clone(),
                auth.clone(),
                measure,
                end,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.map_err(|e| format!("a worker failed: {e}"))?;
        all.latencies_us.extend(t.latencies_us);
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
        all.errors += t.errors;
        all.total += t.total;
        if t.last_error.is_some() {
            all.last_error = t.last_error;
        }
    }
    let window = end.duration_since(measure).as_secs_f64();
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len();
    let mean = if n == 0 {
        0.0
    } else {
        all.latencies_us.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64
    };
    let statuses: serde_json::Map<String, serde_json::Value> = all
        .statuses
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    let out = serde_json::json!({
        "requests": n,
        "rps": (n as f64 / window * 10.0).round() / 10.0,
        "p50_us": percentile(&all.latencies_us, 0.50),
        "p99_us": percentile(&all.latencies_us, 0.99),
        "mean_us": mean.round(),
        "max_us": all.latencies_us.last().copied().unwrap_or(0),
        "errors": all.errors,
        "status_counts": statuses,
        "total_requests": all.total,
        "concurrency": concurrency,
        "duration_s": window,
        "last_error": all.last_error,
    });
    Ok(out.to_string())
}

/// Spawn the command, find its port, GET until answered; times are from just before the spawn.
async fn exec(args: &Args) -> Result<String, String> {
    let path = args
        .url
        .as_deref()
        .unwrap_or("/_emulator/health")
        .to_string();
    let deadline = Duration::from_secs_f64(args.timeout);
    let (program, rest) = args.command.split_first().ok_or("--exec needs a command")?;
    let spawned = Instant::now();
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {program}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    // The port line is read on a thread so a silent child cannot hang the deadline.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut tx = Some(tx);
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("listening on https://") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        }
    });
    let result = async {
        let base = tokio::time::timeout(deadline, rx)
            .await
            .map_err(|_| {
                "the command printed no 'listening on https://…' line in time".to_string()
            })?
            .map_err(|_| {
                "the command exited without printing 'listening on https://…'".to_string()
            })?;
        let listening = spawned.elapsed();
        let target = Target::parse(&format!("{base}{path}"))?;
        let tls = TlsConnector::from(client_config(&args.ca)?);
        let authority = target.authority();
        let mut auth = args.token.as_ref().map(|t| format!("Bearer {}", t.trim()));
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            if let (Some(c), None) = (args.client.as_deref(), auth.as_ref()) {
                match client_token(&tls, &target, c).await {
                    Ok(t) => auth = Some(format!("Bearer {t}")),
                    Err(e) if spawned.elapsed() > deadline => {
                        return Err(format!("no token within {deadline:?}: {e}"))
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                }
            }
            let answer = match connect(&tls, &target).await {
                Ok(mut s) => get(&mut s, &target, &authority, auth.as_deref()).await,
                Err(e) => Err(e),
            };
            match answer {
                Ok(status) => {
                    let first = spawned.elapsed();
                    return Ok(serde_json::json!({
                        "first_request_ms": (first.as_secs_f64() * 1e4).round() / 10.0,
                        "listening_ms": (listening.as_secs_f64() * 1e4).round() / 10.0,
                        "status": status,
                        "attempts": attempts,
                    })
                    .to_string());
                }
                Err(e) => {
                    if spawned.elapsed() > deadline {
                        return Err(format!("no answer within {:?}: {e}", deadline));
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = rt.block_on(async {
        if args.exec {
            exec(&args).await
        } else {
            load(&args).await
        }
    });
    match out {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
