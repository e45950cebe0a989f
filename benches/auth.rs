//! Benchmark of `docward::auth::authenticate`, the lookup behind every request, on a large store.
//!
//! Setup: a `SledStore` in a temp dir holding one enterprise tenant (no key cap) and 100,000 live
//! keys made with `docward::keys::create_key`; 1,000 of their tokens are kept. `DOCWARD_BENCH_KEYS`
//! overrides the key count. Each key creation flushes the store (fsync), so the store goes on a
//! tmpfs (`/dev/shm`) when there is one, which makes the setup take seconds instead of minutes
//! (`DOCWARD_BENCH_TMPDIR` picks another place); lookups are served from sled's cache either way.
//!
//! It compares three paths through `authenticate(&store, token, Env::Live, now)`:
//! - `valid`: a known, active token, cycling through the 1,000 kept tokens (parse, checksum,
//!   blake3, hash lookup, record decode, tenant lookup, last-used touch);
//! - `bad_checksum`: a token with a wrong checksum, refused by the parser before any lookup;
//! - `unknown`: a well-formed token with a valid checksum that is in no store (parse, hash, one
//!   missed lookup).
//!
//! Criterion reports means; afterwards a plain loop of 200,000 calls per case prints p50 and p99
//! (per-call `Instant` timing, with a fresh `now` per call so last-used writes happen as in
//! production: at most once per key per second). The target is a p50 under 5 µs for `valid`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use docward::auth::authenticate;
use docward::clock;
use docward::domain::{Env, Plan, Scope, TokenType};
use docward::keys::{NewKey, create_key};
use docward::store::{KeyStore, SledStore, TenantRecord};
use docward::token::Token;

const DEFAULT_KEYS: usize = 100_000;
const KEPT_TOKENS: usize = 1_000;
const TIMED_CALLS: usize = 200_000;

/// The store and the tokens to present.
struct Fixture {
    store: SledStore,
    valid: Vec<String>,
    bad_checksum: String,
    unknown: String,
    _dir: tempfile::TempDir,
}

/// A temp dir under `$DOCWARD_BENCH_TMPDIR` if set, else on `/dev/shm` if present, else in the
/// system temp dir.
fn temp_dir() -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix("docward-bench-auth-");
    if let Some(dir) = std::env::var_os("DOCWARD_BENCH_TMPDIR") {
        return builder
            .tempdir_in(dir)
            .expect("temp dir in $DOCWARD_BENCH_TMPDIR");
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(&shm)
    {
        return dir;
    }
    builder.tempdir().expect("temp dir")
}

fn fixture() -> Fixture {
    let n: usize = std::env::var("DOCWARD_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_KEYS);
    let dir = temp_dir();
    let store = SledStore::open(&dir.path().join("data")).expect("open the store");
    let now = clock::now();
    store
        .create_tenant(&TenantRecord {
            name: "bench".into(),
            plan: Plan::Enterprise,
            daily_limit: None,
            max_keys: None,
            created_at: now,
        })
        .expect("create the tenant");

    let every = (n / KEPT_TOKENS).max(1);
    let mut valid = Vec::with_capacity(KEPT_TOKENS);
    let started = Instant::now();
    for i in 0..n {
        let created = create_key(
            &store,
            NewKey {
                tenant: "bench".into(),
                name: format!("key {i}"),
                env: Env::Live,
                token_type: TokenType::Restricted,
                scopes: vec![Scope::McpSearch, Scope::McpGetDoc],
                expires_at: Some(now + 90 * 86_400),
            },
            now,
        )
        .expect("create a key");
        if i % every == 0 && valid.len() < KEPT_TOKENS {
            valid.push(created.token.expose().to_owned());
        }
        if (i + 1) % 20_000 == 0 {
            eprintln!("  {} keys in {:.1?}", i + 1, started.elapsed());
        }
    }
    let took = started.elapsed();
    eprintln!(
        "setup: {n} keys created in {took:.2?} ({:.0} keys/s) in {}",
        n as f64 / took.as_secs_f64(),
        dir.path().display()
    );

    let mut bad_checksum = valid[0].clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    let unknown = Token::generate(Env::Live)
        .expect("token")
        .expose()
        .to_owned();

    // Sanity: each case takes the path it is meant to.
    assert!(authenticate(&store, &valid[0], Env::Live, now).is_ok());
    assert_eq!(
        authenticate(&store, &bad_checksum, Env::Live, now)
            .unwrap_err()
            .code(),
        "bad_checksum"
    );
    assert_eq!(
        authenticate(&store, &unknown, Env::Live, now)
            .unwrap_err()
            .code(),
        "unknown_key"
    );

    Fixture {
        store,
        valid,
        bad_checksum,
        unknown,
        _dir: dir,
    }
}

fn criterion_benches(c: &mut Criterion, f: &Fixture) {
    let now = clock::now();
    let mut group = c.benchmark_group("authenticate");
    group
        .sample_size(60)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));

    let mut i = 0usize;
    group.bench_function("valid", |b| {
        b.iter(|| {
            let token = &f.valid[i % f.valid.len()];
            i = i.wrapping_add(1);
            black_box(authenticate(&f.store, black_box(token), Env::Live, now).is_ok())
        })
    });
    group.bench_function("bad_checksum", |b| {
        b.iter(|| {
            black_box(authenticate(&f.store, black_box(&f.bad_checksum), Env::Live, now).is_err())
        })
    });
    group.bench_function("unknown", |b| {
        b.iter(|| black_box(authenticate(&f.store, black_box(&f.unknown), Env::Live, now).is_err()))
    });
    group.finish();
}

/// Times `calls` calls one by one and prints p50, p99 and max.
fn percentiles(label: &str, calls: usize, mut call: impl FnMut(usize) -> bool) {
    for i in 0..calls / 10 {
        black_box(call(i));
    }
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        black_box(call(i));
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label:<28} p50 {:>9.2?}   p99 {:>9.2?}   max {:>9.2?}   ({calls} calls)",
        at(0.50),
        at(0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    let f = fixture();

    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &f);
    c.final_summary();

    println!("\nauthenticate, timed one call at a time:");
    percentiles("valid (1,000 keys cycled)", TIMED_CALLS, |i| {
        let token = &f.valid[i % f.valid.len()];
        authenticate(&f.store, token, Env::Live, clock::now()).is_ok()
    });
    percentiles("bad_checksum", TIMED_CALLS, |_| {
        authenticate(&f.store, &f.bad_checksum, Env::Live, clock::now()).is_err()
    });
    percentiles("unknown", TIMED_CALLS, |_| {
        authenticate(&f.store, &f.unknown, Env::Live, clock::now()).is_err()
    });
}
