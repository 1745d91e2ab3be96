//! The verified-token cache's memory per entry (issue 13, finding 7): fills `authn::TokenCache` with
//! N distinct access tokens of the default world's user with the most groups (as the token endpoint
//! issues them: one per second of `iat`) and prints the process's resident-set growth divided by N,
//! with mimalloc as the server has it. `scripts/token-cache-size` runs it; the figure is a
//! measurement of RSS (/proc/self/statm), not a computed size, so it includes the map's own overhead.

use std::time::Instant;

use lighthouse_emulator::auth::keys::SigningKey;
use lighthouse_emulator::auth::token;
use lighthouse_emulator::authn::TokenCache;
use lighthouse_emulator::directory::Directory;
use lighthouse_emulator::world::{World, DEFAULT_WORLD};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let n: i64 = std::env::var("TOKEN_CACHE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let world = World::parse(DEFAULT_WORLD).expect("the default world parses");
    let dir = Directory::new(
        world.tenants.clone(),
        world.principals.clone(),
        world.subscriptions.clone(),
    );
    let user = world
        .principals
        .iter()
        .max_by_key(|p| dir.groups_of(&p.object_id).len())
        .expect("the default world has principals");
    let tenant = dir.tenant(&user.tenant_id).expect("its tenant");
    let groups = dir.groups_of(&user.object_id).to_vec();
    let key = SigningKey::generate().expect("a signing key");
    let now = 1_800_000_000;
    let tokens: Vec<String> = (0..n)
        .map(|i| {
            token::issue_access_token(
                &key,
                tenant,
                user,
                &groups,
                "https://management.azure.com/",
                "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                now + i,
                3600,
            )
        })
        .collect();
    let token_len = tokens.first().map(String::len).unwrap_or(0);
    let cache = TokenCache::default();
    // one entry first, so the map's first allocation and the verifier's set-up are not counted
    cache.verify(&key, &tokens[0], now).expect("verifies");
    let before = rss_bytes();
    let started = Instant::now();
    for (i, t) in tokens.iter().enumerate().skip(1) {
        cache.verify(&key, t, now + i as i64).expect("verifies");
    }
    let filled = started.elapsed();
    let after = rss_bytes();
    let per = (after.saturating_sub(before)) as f64 / (n - 1) as f64;
    println!(
        "token-cache: {} entries of a {token_len}-byte token ({} groups): RSS +{:.1} MB, {per:.0} bytes per entry ({:.1} µs per verify+insert)",
        n - 1,
        groups.len(),
        (after.saturating_sub(before)) as f64 / 1e6,
        filled.as_secs_f64() * 1e6 / (n - 1) as f64
    );
    // hits: the same tokens again, answered from the cache
    let started = Instant::now();
    for (i, t) in tokens.iter().enumerate() {
        cache.verify(&key, t, now + i as i64).expect("verifies");
    }
    println!(
        "token-cache: {:.2} µs per cache hit",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    drop(tokens);
}
