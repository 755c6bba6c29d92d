//! Load on a running broker's cache-hit path over loopback keep-alive connections: latency
//! percentiles and requests per second. Prints numbers; asserts nothing (a benchmark).
//!
//!   cargo run --release -p certless-cli --example broker_load -- URL SECRET_FILE [CONNECTIONS] [SECONDS]
//!
//! URL is the token endpoint the broker prints (http://127.0.0.1:PORT/msi/token). Each
//! connection is a thread sending one request at a time, as an SDK client does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: broker_load URL SECRET_FILE [CONNECTIONS] [SECONDS]");
        std::process::exit(2);
    }
    let url = args[1].trim_start_matches("http://").to_string();
    let (addr, path) = url.split_once('/').expect("URL has a path");
    let secret = std::fs::read_to_string(&args[2])
        .expect("secret file")
        .trim()
        .to_string();
    let connections: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let seconds: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(10);
    let request = format!(
        "GET /{path}?api-version=2019-08-01&resource=https://graph.microsoft.com HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nX-IDENTITY-HEADER: {secret}\r\n\r\n"
    );
    // Warm: the first request fetches the token.
    one_connection(addr, &request, Duration::from_millis(200));
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..connections)
            .map(|_| s.spawn(|| one_connection(addr, &request, Duration::from_secs(seconds))))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut sorted = latencies.clone();
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    println!(
        "connections {connections}, {} requests in {:.1} s: {:.0} requests/s; latency p50 {:.0} µs, \
         p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        sorted.len(),
        elapsed.as_secs_f64(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.90).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        sorted[sorted.len() - 1].as_secs_f64() * 1e6,
    );
}

/// Requests on one keep-alive connection until `duration` has passed; each one's latency.
fn one_connection(addr: &str, request: &str, duration: Duration) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::with_capacity(1 << 20);
    let until = Instant::now() + duration;
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < until {
        let sent = Instant::now();
        writer.write_all(request.as_bytes()).expect("write");
        let mut length = 0usize;
        let mut status_ok = false;
        loop {
            line.clear();
            if reader.read_line(&mut line).expect("read") == 0 {
                panic!("the broker closed the connection");
            }
            if line.starts_with("HTTP/1.1 ") {
                status_ok = line.starts_with("HTTP/1.1 200");
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("content-length");
            }
            if line == "\r\n" {
                break;
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body).expect("body");
        assert!(status_ok, "{}", String::from_utf8_lossy(&body));
        latencies.push(sent.elapsed());
    }
    latencies
}
