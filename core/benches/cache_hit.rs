//! Cache-hit latency of `get_token`: the cost every API call of every host pays.
//! `cargo bench -p certless --bench cache_hit`

#[path = "../examples/support/mod.rs"]
mod support;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use certless::TokenRequestOptions;
use certless_emulator::{Emulator, EmulatorConfig, StartOptions};
use criterion::{Criterion, criterion_group, criterion_main};

const SCOPE: &str = "https://contoso.sharepoint.com/.default";

/// Polls a future that completes without waiting (a cache hit) once, with no runtime.
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cache hit must complete without waiting"),
    }
}

fn cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(Emulator::start(
            EmulatorConfig::default(),
            StartOptions {
                http_port: 0,
                https_port: None,
                state_dir: None,
            },
        ))
        .unwrap();
    let credential = support::demo_credential(&emulator);
    runtime.block_on(credential.get_token(&[SCOPE])).unwrap();
    let options = TokenRequestOptions::default();

    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("get_token (async, polled once)", |b| {
        b.iter(|| poll_once(credential.get_token_with(black_box(&[SCOPE]), &options)).unwrap())
    });
    group.bench_function("cached_token (sync)", |b| {
        b.iter(|| {
            credential
                .cached_token(black_box(&[SCOPE]))
                .unwrap()
                .unwrap()
        })
    });
    group.bench_function("get_token_blocking", |b| {
        b.iter(|| {
            credential
                .get_token_blocking(black_box(&[SCOPE]), &options)
                .unwrap()
        })
    });
    group.bench_function("get_token, bare resource (normalised)", |b| {
        b.iter(|| {
            poll_once(
                credential.get_token_with(black_box(&["https://contoso.sharepoint.com"]), &options),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
