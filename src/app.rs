//! `App`: everything a request can touch — the store, the access-facts snapshot and the policies in
//! force (rebuilt after the writes that change them), the verified-token cache, clock, signing key,
//! configuration and the world with its load/reset — and `Config`/`AuthzMode`. State and configuration
//! only: never decides, never answers a request itself (world replay goes through the `Replay` hook).

use std::sync::{Arc, RwLock};

use crate::auth::keys::SigningKey;
use crate::authn::TokenCache;
use crate::clock::Clock;
use crate::facts::Snapshot;
use crate::providers::policy::effective::PolicySet;
use crate::providers::{self, Caller};
use crate::store::{Store, StoreError};
use crate::wire::{Reply, Req};
use crate::world::World;

/// How authorization failures are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthzMode {
    /// Refuse what RBAC refuses (Azure's behaviour).
    Enforce,
    /// Let everything through, log what enforce would have refused.
    Log,
    /// No authorization checks at all.
    Off,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub token_lifetime: i64,
    pub authz: AuthzMode,
    /// Required on `/_emulator/*` (header `x-emulator-admin-key`) when set.
    pub admin_key: Option<String>,
    pub max_body: usize,
    /// At most this many authorizations per registration definition (Partner Center's 20).
    pub max_authorizations: usize,
    /// PEM of the CA that signed the server certificate (served at `/_emulator/ca.pem`).
    pub ca_pem: String,
    /// Resource Graph's per-user quota (15 queries / 5 s); off for load tests.
    pub graph_quota: bool,
}

/// Everything a request can touch.
pub struct App {
    pub store: Store,
    snap: RwLock<Arc<Snapshot>>,
    /// The policy assignments and exemptions in force, rebuilt after a write to a policy type or the
    /// management-group hierarchy (`touches_policies`), never per request.
    policies: RwLock<Arc<PolicySet>>,
    /// Tokens whose signature has been verified, with their claims (`authn::TokenCache`).
    pub tokens: TokenCache,
    pub clock: Clock,
    pub key: SigningKey,
    pub config: Config,
    pub world: World,
    /// Resource Graph's per-user windows.
    pub graph_quota: crate::quota::UserQuota,
    /// Conditional writes take it exclusively, other writes shared (`check_preconditions`).
    pub(crate) write_gate: RwLock<()>,
    /// When the next cancelled subscription's retention ends (unix seconds; `i64::MAX` when none is
    /// cancelled): every request compares the clock with it, one atomic load.
    next_deletion: std::sync::atomic::AtomicI64,
    /// The pipeline the world's requests are replayed through as the platform (`dispatch::arm_as`,
    /// handed in by the edge that builds the `App`, so that state never imports the pipeline).
    replay: Replay,
    /// Saved states of this world (`/_emulator/snapshots`).
    pub snapshots: crate::snapshots::Snapshots,
    /// The main world's sandboxes (`/_emulator/sandboxes`); unset in a sandbox.
    pub sandboxes: std::sync::OnceLock<Arc<crate::sandboxes::Sandboxes>>,
    /// A sandbox's starting point: what its reset brings back (a copy, not a replay).
    pub origin: std::sync::OnceLock<Arc<App>>,
    /// Throttling, fault rules and metrics (`crate::ops`).
    pub ops: crate::ops::Ops,
    /// The web console's request journal and where it answers (`crate::console`).
    pub console: crate::console::State,
    /// A deleted (or expired) sandbox: connections still open get 404 `SandboxNotFound` and are closed.
    pub retired: std::sync::atomic::AtomicBool,
}

/// Run an ARM request as a caller through the whole pipeline: `dispatch::arm_as`.
pub type Replay = fn(&App, &Req, &Caller, &str) -> Reply;

impl App {
    pub fn new(
        store: Store,
        key: SigningKey,
        world: World,
        config: Config,
        replay: Replay,
    ) -> Result<App, StoreError> {
        let app = App {
            store,
            snap: RwLock::new(Arc::new(Snapshot::default())),
            policies: RwLock::new(Arc::new(PolicySet::default())),
            tokens: TokenCache::default(),
            clock: Clock::default(),
            key,
            graph_quota: crate::quota::UserQuota::new(config.graph_quota),
            config,
            world,
            next_deletion: std::sync::atomic::AtomicI64::new(i64::MAX),
            write_gate: RwLock::new(()),
            replay,
            snapshots: Default::default(),
            sandboxes: Default::default(),
            origin: Default::default(),
            ops: Default::default(),
            console: Default::default(),
            retired: Default::default(),
        };
        let loaded = app.store.read(|tx| tx.meta("world_loaded"))?;
        if loaded.is_none() {
            // also what a state dir gets whose first load was cut short (no marker: loaded again)
            app.load_world()?;
        } else {
            app.refresh()?;
            app.refresh_policies()?;
        }
        Ok(app)
    }

    /// Another world over `store` with this one's key, configuration and replay (a sandbox's
    /// template): loads `world` when the store holds none yet, else derives the facts from it.
    pub fn sibling(&self, store: Store, world: World) -> Result<App, StoreError> {
        App::new(
            store,
            self.key.clone(),
            world,
            self.config.clone(),
            self.replay,
        )
    }

    /// A new world from this one's current state (what a sandbox is): a copy of the store (SQLite's
    /// backup, no replay) with the facts and policies already derived from the same rows, the same key
    /// and configuration, and its own clock (at this one's offset), caches, quota and snapshots. Its
    /// `world` holds the directory only: a fork's reset restores a copy (`origin`), never replays.
    pub fn fork(&self) -> Result<App, StoreError> {
        let clock = Clock::default();
        clock.advance(time::Duration::seconds(self.clock.offset_seconds()));
        Ok(App {
            store: self.store.copy()?,
            snap: RwLock::new(self.snapshot()),
            policies: RwLock::new(self.policies()),
            tokens: TokenCache::default(),
            clock,
            key: self.key.clone(),
            graph_quota: crate::quota::UserQuota::new(self.config.graph_quota),
            config: self.config.clone(),
            world: self.world.directory_only(),
            next_deletion: std::sync::atomic::AtomicI64::new(
                self.next_deletion
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
            write_gate: RwLock::new(()),
            replay: self.replay,
            snapshots: Default::default(),
            sandboxes: Default::default(),
            origin: Default::default(),
            ops: Default::default(),
            console: self.console.fork(),
            retired: Default::default(),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The policy assignments and exemptions in force.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-read the policy assignments, exemptions and their definitions.
    pub fn refresh_policies(&self) -> Result<(), StoreError> {
        let set = PolicySet::load(&self.store).map_err(|e| StoreError(e.message))?;
        *self.policies.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Re-read the access facts after a write that changed them.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let snap = Arc::new(self.store.read(Snapshot::load)?);
        let next = providers::lifecycle::next_deletion(&self.store, &snap)?;
        *self.snap.write().unwrap_or_else(|p| p.into_inner()) = snap;
        self.next_deletion.store(
            next.unwrap_or(i64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    /// Delete the subscriptions whose retention after a cancel has run out on the emulator clock
    /// (each request checks; moving the clock forward brings the deletion with the next request).
    pub fn delete_expired_subscriptions(&self) -> Result<(), StoreError> {
        let now = self.clock.unix();
        if now
            < self
                .next_deletion
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let snap = self.snapshot();
        let gone = providers::lifecycle::delete_expired(&self.store, &snap, now)?;
        for s in &gone {
            tracing::info!(subscription = %s, "retention after cancel ended: resources deleted, subscription Deleted");
        }
        self.refresh()
    }

    /// Empty the store and load the world: directory rows, then its requests replayed as the platform,
    /// then the `world_loaded` marker. On disk the replay runs in memory and its result is copied into
    /// the file in one transaction (`load_world_through_memory`).
    pub fn load_world(&self) -> Result<(), StoreError> {
        if self.store.on_disk() {
            return self.load_world_through_memory();
        }
        let t0 = std::time::Instant::now();
        let phase = |what: &str| tracing::debug!(target: "lighthouse_emulator::start", what, elapsed_us = t0.elapsed().as_micros() as u64, "loading the world");
        self.store.write(|tx| -> Result<(), StoreError> {
            tx.clear()?;
            for t in &self.world.tenants {
                tx.put_directory("tenant", &t.id, &serde_json::to_value(t)?)?;
            }
            for p in &self.world.principals {
                tx.put_directory("principal", &p.object_id, &serde_json::to_value(p)?)?;
            }
            for s in &self.world.subscriptions {
                tx.put_directory(
                    "subscription",
                    &s.subscription_id,
                    &serde_json::to_value(s)?,
                )?;
            }
            Ok(())
        })?;
        self.refresh()?;
        phase("directory");
        let platform = Caller::platform();
        for r in &self.world.requests {
            let req = Req {
                method: r.method.to_ascii_uppercase(),
                path: r.id.clone(),
                raw_query: format!("api-version={}", r.api_version),
                query: vec![("api-version".into(), r.api_version.clone())],
                body: serde_json::to_vec(&r.body).unwrap_or_default(),
                host: "localhost".into(),
                ..Default::default()
            };
            let reply = (self.replay)(self, &req, &platform, "https://localhost");
            if reply.status >= 300 {
                return Err(StoreError(format!(
                    "world request {} {} failed with {}: {}",
                    r.method,
                    r.id,
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                )));
            }
        }
        phase("requests replayed");
        crate::dataplane::load_world_data(&self.store, &self.world.data, self.clock.now())?;
        if let Some(state) = &self.world.state {
            crate::snapshots::load_state(&self.store, state)?;
        }
        self.store.write(|tx| tx.set_meta("world_loaded", "1"))?;
        self.refresh_policies()?;
        self.refresh()?;
        phase("facts and policies");
        Ok(())
    }

    /// The world of a store on disk: replayed into a store in memory (about 50 commits that never touch
    /// the file: 17–29 ms on disk against 8 in memory), then its pages copied into the file by SQLite's
    /// backup — one write transaction that replaces everything, the marker with the rest. A crash before
    /// it commits leaves the file as it was, so the next start, finding no marker, loads again. The
    /// facts and policies derived in memory are the same rows', so they are taken as they are. The
    /// clock is the real one here (at start and after a reset), as in the replay's own `App`.
    fn load_world_through_memory(&self) -> Result<(), StoreError> {
        let scratch = self.sibling(Store::open(None)?, self.world.clone())?;
        self.store.restore_from(&scratch.store)?;
        *self.snap.write().unwrap_or_else(|p| p.into_inner()) = scratch.snapshot();
        *self.policies.write().unwrap_or_else(|p| p.into_inner()) = scratch.policies();
        self.next_deletion.store(
            scratch
                .next_deletion
                .load(std::sync::atomic::Ordering::Relaxed),
            std::sync::atomic::Ordering::Relaxed,
        );
        tracing::debug!(target: "lighthouse_emulator::start", "world copied into the file");
        Ok(())
    }
}
