//! State in SQLite (rusqlite): the directory (tenants, principals, subscriptions), every ARM resource
//! as JSON keyed by its lower-cased id, long-running operation records, the activity log, and the data
//! plane (blob containers, blobs and their uncommitted blocks, Key Vault secret versions).
//! Knows nothing of HTTP, ARM errors or routes. Every write is one transaction; the schema carries a
//! version that `open` migrates forward.

use foldhash::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

pub const SCHEMA_VERSION: i64 = 4;

#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// One stored resource: its identity, indexing columns and the JSON ARM returns for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Lower-cased canonical id.
    pub key: String,
    /// Lower-cased full type (`microsoft.network/virtualnetworks`, `microsoft.resources/resourcegroups`).
    pub rtype: String,
    /// Lower-cased subscription id, empty at tenant scope.
    pub sub: String,
    /// Lower-cased resource group name, empty above resource groups.
    pub rg: String,
    /// Lower-cased key of the parent scope.
    pub parent: String,
    pub body: Value,
}

pub struct Store {
    conn: Mutex<Connection>,
    /// A file (`open` with a path), not memory.
    on_disk: bool,
    /// Resources read by id (`get`) since the last write: a hot GET answers from here without a
    /// statement or a JSON parse. Filled and emptied only under the connection's lock (a miss is read
    /// and remembered under it, every write empties it before the lock is released), so it never
    /// holds a row older than the last commit. SQLite stays the only record.
    cache: RwLock<HashMap<String, Arc<Cached>>>,
    /// Values derived from the state that many reads share (`memo`), by name; like `cache`, built and
    /// emptied only under the connection's lock, so none outlives the write after it.
    memos: RwLock<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
    /// Values derived from state that writes only extend (`memo_kept`: Log Analytics tables), kept
    /// across writes and brought up to date by the next reader; emptied by a write that empties the
    /// store (`Tx::clear`) and by `restore_from`, the two ways rows disappear.
    kept: RwLock<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
}

/// A row in the read cache, with its JSON as ARM returns it, serialized once on first use.
#[derive(Debug)]
pub struct Cached {
    pub row: Stored,
    json: std::sync::OnceLock<Vec<u8>>,
}

impl Cached {
    /// `row.body` as JSON bytes.
    pub fn json(&self) -> &[u8] {
        self.json
            .get_or_init(|| serde_json::to_vec(&self.row.body).unwrap_or_default())
    }
}

impl std::ops::Deref for Cached {
    type Target = Stored;
    fn deref(&self) -> &Stored {
        &self.row
    }
}

/// Entries the read cache holds before it starts over.
const CACHE_MAX: usize = 4096;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directory(kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(kind, id));
CREATE TABLE IF NOT EXISTS resources(
  key TEXT PRIMARY KEY, rtype TEXT NOT NULL, sub TEXT NOT NULL, rg TEXT NOT NULL,
  parent TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS resources_parent ON resources(parent);
CREATE INDEX IF NOT EXISTS resources_rtype ON resources(rtype, sub);
CREATE INDEX IF NOT EXISTS resources_scope ON resources(sub, rg);
CREATE TABLE IF NOT EXISTS operations(id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity(seq INTEGER PRIMARY KEY AUTOINCREMENT, sub TEXT NOT NULL,
  ts TEXT NOT NULL, correlation TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_sub ON activity(sub, ts);
";

/// Version 2: the data plane. `account` and `vault` are the lower-cased ARM ids of the storage account
/// and the key vault; `container` names are lower-case (Azure's rule); blob names keep their case; secret
/// `name` is lower-cased (Key Vault names are case-insensitive; the body keeps the spelling).
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS containers(account TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY(account, name));
CREATE TABLE IF NOT EXISTS blobs(account TEXT NOT NULL, container TEXT NOT NULL, name TEXT NOT NULL,
  content BLOB NOT NULL, body TEXT NOT NULL, PRIMARY KEY(account, container, name));
CREATE TABLE IF NOT EXISTS blocks(account TEXT NOT NULL, container TEXT NOT NULL, blob TEXT NOT NULL,
  block_id TEXT NOT NULL, content BLOB NOT NULL, PRIMARY KEY(account, container, blob, block_id));
CREATE TABLE IF NOT EXISTS secrets(seq INTEGER PRIMARY KEY AUTOINCREMENT, vault TEXT NOT NULL,
  name TEXT NOT NULL, version TEXT NOT NULL, body TEXT NOT NULL, deleted TEXT);
CREATE INDEX IF NOT EXISTS secrets_name ON secrets(vault, name, seq);
";

/// Version 3: `name` (the id's last segment, lower-cased) indexed with the type, so a globally named
/// type's name is looked up across every subscription in one index probe; `owner` (the key of the
/// resource that made this row as the platform, e.g. a managed application's deny assignment), indexed
/// so that whatever deletes the owner deletes what it owns in the same transaction.
const SCHEMA_V3: &str = "
ALTER TABLE resources ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE resources SET name = replace(key, rtrim(key, replace(key, '/', '')), '');
CREATE INDEX IF NOT EXISTS resources_name ON resources(rtype, name);
CREATE INDEX IF NOT EXISTS resources_owner ON resources(owner) WHERE owner != '';
";

/// Version 4: Log Analytics rows. `workspace` is the workspace's `customerId` (lower-cased), `tbl` the
/// table name lower-cased (Log Analytics table names are case-insensitive), `ts` the row's
/// `TimeGenerated` (RFC 3339, UTC) and `body` the row as a JSON object with the table's column names.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS log_rows(seq INTEGER PRIMARY KEY AUTOINCREMENT, workspace TEXT NOT NULL,
  tbl TEXT NOT NULL, ts TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_rows_table ON log_rows(workspace, tbl, seq);
";

/// One stored blob's properties without its content (listing), or with it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobRow {
    pub name: String,
    pub body: Value,
    pub content: Option<Vec<u8>>,
}

/// One secret version: its version id, its bundle fields, and the deletion record when deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretRow {
    pub name: String,
    pub version: String,
    pub body: Value,
    pub deleted: Option<Value>,
}

impl Store {
    /// Open (and migrate) the store: a file in WAL mode, or memory when `path` is `None`.
    ///
    /// A new file is created with `synchronous=OFF` — the switch to WAL and the schema, nothing else —
    /// and set to `NORMAL` before `open` returns: those fsyncs were 4–45 ms of a first start on a busy
    /// disk, and what they protect is an empty database (a crash while creating it leaves no file, an
    /// empty one or the bare schema, and the world, whose marker is not there, is loaded again).
    pub fn open(path: Option<&Path>) -> Result<Store, StoreError> {
        let (mut conn, version) = match path {
            Some(p) => {
                let c = Connection::open(p)?;
                let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                let sync = if version == 0 { "OFF" } else { "NORMAL" };
                c.pragma_update(None, "synchronous", sync)?;
                c.pragma_update(None, "journal_mode", "WAL")?;
                (c, version)
            }
            None => (Connection::open_in_memory()?, 0),
        };
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "the state was written by a newer emulator (schema {version}, this one knows {SCHEMA_VERSION}); use another --state-dir"
            )));
        }
        // Migrations run in order from the stored version, in one transaction with the new version
        // number (all or nothing; one commit, not one per statement); version 0 is an empty database.
        if version < SCHEMA_VERSION {
            let tx = conn.transaction()?;
            for (from, sql) in [(1, SCHEMA), (2, SCHEMA_V2), (3, SCHEMA_V3), (4, SCHEMA_V4)] {
                if version < from {
                    tx.execute_batch(sql)?;
                }
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        if path.is_some() && version == 0 {
            // every write from here on: WAL's NORMAL (durable up to the last checkpoint, never corrupt)
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            on_disk: path.is_some(),
            cache: RwLock::new(HashMap::default()),
            memos: RwLock::new(HashMap::default()),
            kept: RwLock::new(HashMap::default()),
        })
    }

    /// Whether the state is a file (`open` with a path) rather than memory.
    pub fn on_disk(&self) -> bool {
        self.on_disk
    }

    /// Run `f` inside one transaction; commit when it returns `Ok`, roll back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(StoreError::from)?;
        let t = Tx::new(&tx);
        let out = f(&t);
        let cleared = t.cleared.get();
        let committed = match out {
            Ok(v) => tx
                .commit()
                .map_err(|e| E::from(StoreError::from(e)))
                .map(|_| v),
            Err(e) => Err(e), // dropping `tx` rolls back
        };
        if cleared {
            self.kept.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
        // Whatever happened, the cache may not outlive this write (still under the connection's lock).
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.memos
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        committed
    }

    /// The value kept under `name` since the last write, if it is a `T`.
    fn memo_found<T: std::any::Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let found = self
            .memos
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        found.and_then(|v| v.downcast::<T>().ok())
    }

    /// A value derived from the current state by `build`, kept under `name` until the next write (a
    /// view that many reads share, such as Resource Graph's rows of one subscription). Built and kept
    /// under the connection's lock, so it is never older than the last commit.
    pub fn memo<T: std::any::Any + Send + Sync>(
        &self,
        name: &str,
        build: impl FnOnce(&Tx) -> Result<T, StoreError>,
    ) -> Result<Arc<T>, StoreError> {
        if let Some(v) = self.memo_found::<T>(name) {
            return Ok(v);
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let v = Arc::new(build(&Tx::new(&conn))?);
        let mut memos = self.memos.write().unwrap_or_else(|p| p.into_inner());
        if memos.len() >= CACHE_MAX {
            memos.clear();
        }
        memos.insert(name.to_string(), v.clone());
        Ok(v)
    }

    /// Like `memo`, for a value derived from state that writes only extend (a Log Analytics table's
    /// rows): after a write, `update` receives the value it made last (kept across writes) and brings
    /// it up to date instead of building it anew; `None` the first time and after a write that
    /// emptied the store or `restore_from` (the two ways such state shrinks). Built and kept under the
    /// connection's lock, so `update` always sees an ancestor of the current state.
    pub fn memo_kept<T: std::any::Any + Send + Sync + Clone>(
        &self,
        name: &str,
        update: impl FnOnce(Option<T>, &Tx) -> Result<T, StoreError>,
    ) -> Result<Arc<T>, StoreError> {
        if let Some(v) = self.memo_found::<T>(name) {
            return Ok(v);
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let prev = self
            .kept
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .and_then(|v| v.downcast::<T>().ok())
            // the only holder after a write (memos are emptied): taken without a copy
            .map(|v| Arc::try_unwrap(v).unwrap_or_else(|v| T::clone(&v)));
        let v = Arc::new(update(prev, &Tx::new(&conn))?);
        {
            let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
            if kept.len() >= CACHE_MAX {
                kept.clear();
            }
            kept.insert(name.to_string(), v.clone());
        }
        let mut memos = self.memos.write().unwrap_or_else(|p| p.into_inner());
        if memos.len() >= CACHE_MAX {
            memos.clear();
        }
        memos.insert(name.to_string(), v.clone());
        Ok(v)
    }

    /// One resource by its lower-cased id, from the read cache or SQLite.
    pub fn get(&self, key: &str) -> Result<Option<Arc<Cached>>, StoreError> {
        if let Some(s) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return Ok(Some(s.clone()));
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(found) = (Tx::new(&conn)).get(key)?.map(|row| {
            Arc::new(Cached {
                row,
                json: Default::default(),
            })
        }) else {
            return Ok(None);
        };
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key.to_string(), found.clone());
        Ok(Some(found))
    }

    /// A copy of the whole state in a new in-memory store (SQLite's online backup: pages, not a
    /// replay). What a snapshot keeps and what a sandbox starts from.
    pub fn copy(&self) -> Result<Store, StoreError> {
        let src = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut dst = Connection::open_in_memory()?;
        rusqlite::backup::Backup::new(&src, &mut dst)?.run_to_completion(
            i32::MAX,
            std::time::Duration::ZERO,
            None,
        )?;
        drop(src);
        dst.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Store {
            conn: Mutex::new(dst),
            on_disk: false,
            cache: RwLock::new(HashMap::default()),
            memos: RwLock::new(HashMap::default()),
            kept: RwLock::new(HashMap::default()),
        })
    }

    /// Replace the whole state with `from`'s (a copy made by `copy`), in one backup step under the
    /// connection's lock; the read cache and memos are emptied before the lock is released.
    pub fn restore_from(&self, from: &Store) -> Result<(), StoreError> {
        let src = from.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut dst = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let out = rusqlite::backup::Backup::new(&src, &mut dst)
            .and_then(|b| b.run_to_completion(i32::MAX, std::time::Duration::ZERO, None));
        self.kept.write().unwrap_or_else(|p| p.into_inner()).clear();
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.memos
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(out?)
    }

    /// Bytes the state takes in SQLite (page count × page size).
    pub fn size_bytes(&self) -> Result<i64, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?)
    }

    /// Run `f` against the current state without writing.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        // Every write is one transaction under the same lock, so a read never sees half of one; a read
        // needs no BEGIN/ROLLBACK of its own (two statements saved on the hot GET path).
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let before = conn.total_changes();
        let out = f(&Tx::new(&conn));
        if conn.total_changes() != before {
            // `read` is not meant for writes, but if one slipped in the cache must not outlive it
            debug_assert!(false, "a write inside Store::read");
            self.cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            self.memos
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        out
    }
}

/// A transaction: the only way to touch the state.
pub struct Tx<'a> {
    tx: &'a Connection,
    /// Set by `clear`: rows went away, so values kept across writes (`memo_kept`) are stale.
    cleared: std::cell::Cell<bool>,
}

impl<'a> Tx<'a> {
    fn new(tx: &'a Connection) -> Tx<'a> {
        Tx {
            tx,
            cleared: std::cell::Cell::new(false),
        }
    }
}

fn row_to_stored(
    r: &rusqlite::Row,
) -> rusqlite::Result<(String, String, String, String, String, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn stored(t: (String, String, String, String, String, String)) -> Result<Stored, StoreError> {
    Ok(Stored {
        key: t.0,
        rtype: t.1,
        sub: t.2,
        rg: t.3,
        parent: t.4,
        body: serde_json::from_str(&t.5)?,
    })
}

type SecretTuple = (String, String, String, Option<String>);

fn secret_row(r: &rusqlite::Row) -> rusqlite::Result<SecretTuple> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn secret(t: SecretTuple) -> Result<SecretRow, StoreError> {
    Ok(SecretRow {
        name: t.0,
        version: t.1,
        body: serde_json::from_str(&t.2)?,
        deleted: match t.3 {
            Some(d) => Some(serde_json::from_str(&d)?),
            None => None,
        },
    })
}

const COLS: &str = "key, rtype, sub, rg, parent, body";

impl Tx<'_> {
    pub fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT key, rtype, sub, rg, parent, body FROM resources WHERE key = ?1",
        )?;
        match st.query_row([key], row_to_stored).optional()? {
            Some(t) => Ok(Some(stored(t)?)),
            None => Ok(None),
        }
    }

    pub fn put(&self, s: &Stored) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO resources(key, rtype, sub, rg, parent, body, name) VALUES(?1,?2,?3,?4,?5,?6,?7)
             ON CONFLICT(key) DO UPDATE SET rtype=?2, sub=?3, rg=?4, parent=?5, body=?6, name=?7",
        )?;
        st.execute(params![
            s.key,
            s.rtype,
            s.sub,
            s.rg,
            s.parent,
            serde_json::to_string(&s.body)?,
            s.key.rsplit('/').next().unwrap_or_default()
        ])?;
        Ok(())
    }

    /// Record that the resource `owner` (a key) made `key` as the platform: deleting the owner, by
    /// any path, deletes it (`delete_tree`). An existing owner is replaced; a row put later keeps it.
    pub fn set_owner(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE resources SET owner = ?2 WHERE key = ?1",
            params![key, owner],
        )?;
        Ok(())
    }

    /// The resources of `rtype` (lower-case) named `name` (compared lower-cased), in any subscription:
    /// one probe of the (rtype, name) index. What makes a globally named type's name taken.
    pub fn by_type_and_name(&self, rtype: &str, name: &str) -> Result<Vec<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {COLS} FROM resources WHERE rtype = ?1 AND name = ?2 ORDER BY key"
        ))?;
        let rows = st.query_map(params![rtype, name.to_lowercase()], row_to_stored)?;
        rows.map(|r| stored(r?)).collect()
    }

    /// Delete one resource; true when it existed.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .execute("DELETE FROM resources WHERE key = ?1", [key])?
            > 0)
    }

    /// Delete a resource and everything below it (`key` and `key/…`), and — transitively — every row
    /// a deleted row owns (`set_owner`) with everything below that; returns the deleted rows.
    pub fn delete_tree(&self, key: &str) -> Result<Vec<Stored>, StoreError> {
        let mut gone = Vec::new();
        let mut pending = vec![key.to_string()];
        while let Some(key) = pending.pop() {
            let (lo, hi) = (format!("{key}/"), format!("{key}0"));
            // rows owned by anything in this tree (their owner key is the tree's key or below it)
            let mut owned = self.tx.prepare_cached(
                "SELECT key FROM resources WHERE owner != '' AND (owner = ?1 OR (owner >= ?2 AND owner < ?3))",
            )?;
            let owned: Vec<String> = owned
                .query_map(params![key, lo, hi], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            gone.extend(self.tree(&key)?);
            self.tx.execute(
                "DELETE FROM resources WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
                params![key, lo, hi],
            )?;
            pending.extend(owned);
        }
        Ok(gone)
    }

    /// A resource and everything below it.
    pub fn tree(&self, key: &str) -> Result<Vec<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {COLS} FROM resources WHERE key = ?1 OR (key >= ?2 AND key < ?3) ORDER BY key"
        ))?;
        let rows = st.query_map(
            params![key, format!("{key}/"), format!("{key}0")],
            row_to_stored,
        )?;
        rows.map(|r| stored(r?)).collect()
    }

    /// Direct children of `parent` of type `rtype` (lower-case), in id order.
    pub fn children(&self, parent: &str, rtype: &str) -> Result<Vec<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {COLS} FROM resources WHERE parent = ?1 AND rtype = ?2 ORDER BY key"
        ))?;
        let rows = st.query_map([parent, rtype], row_to_stored)?;
        rows.map(|r| stored(r?)).collect()
    }

    /// Every resource of `rtype`, optionally within one subscription (and resource group).
    pub fn by_type(
        &self,
        rtype: &str,
        sub: Option<&str>,
        rg: Option<&str>,
    ) -> Result<Vec<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {COLS} FROM resources WHERE rtype = ?1 AND (?2 IS NULL OR sub = ?2) AND (?3 IS NULL OR rg = ?3) ORDER BY key"
        ))?;
        let rows = st.query_map(params![rtype, sub, rg], row_to_stored)?;
        rows.map(|r| stored(r?)).collect()
    }

    /// Every resource within a subscription (and resource group), any type.
    pub fn in_scope(&self, sub: &str, rg: Option<&str>) -> Result<Vec<Stored>, StoreError> {
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {COLS} FROM resources WHERE sub = ?1 AND (?2 IS NULL OR rg = ?2) ORDER BY key"
        ))?;
        let rows = st.query_map(params![sub, rg], row_to_stored)?;
        rows.map(|r| stored(r?)).collect()
    }

    // --- directory ---

    /// The directory rows of one kind parsed straight into `T` (no JSON tree in between: the access
    /// facts read the whole directory after every write to a fact type).
    pub fn directory_as<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT body FROM directory WHERE kind = ?1 ORDER BY rowid")?;
        let rows = st.query_map([kind], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    pub fn directory(&self, kind: &str) -> Result<Vec<Value>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT body FROM directory WHERE kind = ?1 ORDER BY rowid")?;
        let rows = st.query_map([kind], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    pub fn put_directory(&self, kind: &str, id: &str, body: &Value) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO directory(kind, id, body) VALUES(?1, ?2, ?3)
             ON CONFLICT(kind, id) DO UPDATE SET body = ?3",
            params![kind, id.to_lowercase(), serde_json::to_string(body)?],
        )?;
        Ok(())
    }

    // --- operations (LRO status records) ---

    pub fn put_operation(&self, id: &str, body: &Value) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO operations(id, body) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET body = ?2",
            params![id.to_lowercase(), serde_json::to_string(body)?],
        )?;
        Ok(())
    }

    pub fn operation(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let s: Option<String> = self
            .tx
            .query_row(
                "SELECT body FROM operations WHERE id = ?1",
                [id.to_lowercase()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match s {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    // --- activity log ---

    pub fn append_activity(
        &self,
        sub: &str,
        ts: &str,
        correlation: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO activity(sub, ts, correlation, body) VALUES(?1, ?2, ?3, ?4)",
            params![
                sub.to_lowercase(),
                ts,
                correlation,
                serde_json::to_string(body)?
            ],
        )?;
        Ok(())
    }

    /// Activity events of a subscription (empty = tenant-level) between two RFC 3339 times.
    pub fn activity(&self, sub: &str, from: &str, to: &str) -> Result<Vec<Value>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT body FROM activity WHERE sub = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY seq DESC",
        )?;
        let rows = st.query_map(params![sub.to_lowercase(), from, to], |r| {
            r.get::<_, String>(0)
        })?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Entries of an activity-table log after sequence number `after`, oldest first, with their
    /// sequence numbers (the alert outbox is read this way; AUTOINCREMENT never reuses a number).
    pub fn activity_since(&self, sub: &str, after: i64) -> Result<Vec<(i64, Value)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT seq, body FROM activity WHERE sub = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = st.query_map(params![sub.to_lowercase(), after], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|r| {
            let (seq, body) = r?;
            Ok((seq, serde_json::from_str(&body)?))
        })
        .collect()
    }

    /// The highest sequence number the activity table has given out (0 when none).
    pub fn activity_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT coalesce(max(seq), 0) FROM activity", [], |r| {
                r.get(0)
            })?)
    }

    // --- Log Analytics rows ---

    /// Append one row to a workspace's table (`workspace` = its customerId, `ts` = TimeGenerated).
    pub fn append_log_row(
        &self,
        workspace: &str,
        table: &str,
        ts: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO log_rows(workspace, tbl, ts, body) VALUES(?1, ?2, ?3, ?4)",
            params![
                workspace.to_lowercase(),
                table.to_lowercase(),
                ts,
                serde_json::to_string(body)?
            ],
        )?;
        Ok(())
    }

    /// The rows of one table of a workspace, oldest first, as `f` reads each JSON text (so a caller
    /// building typed values parses each row once).
    pub fn log_rows<T>(
        &self,
        workspace: &str,
        table: &str,
        mut f: impl FnMut(&str) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT body FROM log_rows WHERE workspace = ?1 AND tbl = ?2 ORDER BY seq",
        )?;
        let mut rows = st.query(params![workspace.to_lowercase(), table.to_lowercase()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let text: String = r.get(0)?;
            out.push(f(&text)?);
        }
        Ok(out)
    }

    /// The rows of one table of a workspace appended after sequence number `after`, oldest first,
    /// with their sequence numbers, as `f` reads each JSON text (what a kept table lacks).
    pub fn log_rows_after<T>(
        &self,
        workspace: &str,
        table: &str,
        after: i64,
        mut f: impl FnMut(&str) -> Result<T, StoreError>,
    ) -> Result<Vec<(i64, T)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT seq, body FROM log_rows WHERE workspace = ?1 AND tbl = ?2 AND seq > ?3 ORDER BY seq",
        )?;
        let mut rows = st.query(params![
            workspace.to_lowercase(),
            table.to_lowercase(),
            after
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let text: String = r.get(1)?;
            out.push((seq, f(&text)?));
        }
        Ok(out)
    }

    /// The tables of a workspace that hold rows (lower-cased names).
    pub fn log_tables(&self, workspace: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT DISTINCT tbl FROM log_rows WHERE workspace = ?1 ORDER BY tbl",
        )?;
        let rows = st.query_map([workspace.to_lowercase()], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // --- data plane: containers, blobs, blocks ---

    pub fn container(&self, account: &str, name: &str) -> Result<Option<Value>, StoreError> {
        let s: Option<String> = self
            .tx
            .query_row(
                "SELECT body FROM containers WHERE account = ?1 AND name = ?2",
                [account, name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match s {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    pub fn put_container(&self, account: &str, name: &str, body: &Value) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO containers(account, name, body) VALUES(?1, ?2, ?3)
             ON CONFLICT(account, name) DO UPDATE SET body = ?3",
            params![account, name, serde_json::to_string(body)?],
        )?;
        Ok(())
    }

    /// Delete a container with its blobs and blocks; true when it existed.
    pub fn delete_container(&self, account: &str, name: &str) -> Result<bool, StoreError> {
        self.tx.execute(
            "DELETE FROM blobs WHERE account = ?1 AND container = ?2",
            [account, name],
        )?;
        self.tx.execute(
            "DELETE FROM blocks WHERE account = ?1 AND container = ?2",
            [account, name],
        )?;
        Ok(self.tx.execute(
            "DELETE FROM containers WHERE account = ?1 AND name = ?2",
            [account, name],
        )? > 0)
    }

    /// Containers of an account in name order.
    pub fn containers(&self, account: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT name, body FROM containers WHERE account = ?1 ORDER BY name")?;
        let rows = st.query_map([account], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|r| {
            let (n, b) = r?;
            Ok((n, serde_json::from_str(&b)?))
        })
        .collect()
    }

    /// One blob; `with_content` false reads only its properties.
    pub fn blob(
        &self,
        account: &str,
        container: &str,
        name: &str,
        with_content: bool,
    ) -> Result<Option<BlobRow>, StoreError> {
        let sql = if with_content {
            "SELECT body, content FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3"
        } else {
            "SELECT body, NULL FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3"
        };
        let row: Option<(String, Option<Vec<u8>>)> = self
            .tx
            .query_row(sql, [account, container, name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(match row {
            Some((b, c)) => Some(BlobRow {
                name: name.to_string(),
                body: serde_json::from_str(&b)?,
                content: c,
            }),
            None => None,
        })
    }

    pub fn put_blob(
        &self,
        account: &str,
        container: &str,
        name: &str,
        content: &[u8],
        body: &Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO blobs(account, container, name, content, body) VALUES(?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(account, container, name) DO UPDATE SET content = ?4, body = ?5",
            params![
                account,
                container,
                name,
                content,
                serde_json::to_string(body)?
            ],
        )?;
        Ok(())
    }

    /// Delete a blob (and its uncommitted blocks); true when it existed.
    pub fn delete_blob(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.clear_blocks(account, container, name)?;
        Ok(self.tx.execute(
            "DELETE FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3",
            [account, container, name],
        )? > 0)
    }

    /// Blobs of a container whose names start with `prefix`, in name order, without content.
    pub fn blobs(
        &self,
        account: &str,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<BlobRow>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT name, body FROM blobs WHERE account = ?1 AND container = ?2 AND substr(name, 1, length(?3)) = ?3 ORDER BY name",
        )?;
        let rows = st.query_map([account, container, prefix], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|r| {
            let (name, b) = r?;
            Ok(BlobRow {
                name,
                body: serde_json::from_str(&b)?,
                content: None,
            })
        })
        .collect()
    }

    pub fn put_block(
        &self,
        account: &str,
        container: &str,
        blob: &str,
        block_id: &str,
        content: &[u8],
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO blocks(account, container, blob, block_id, content) VALUES(?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(account, container, blob, block_id) DO UPDATE SET content = ?5",
            params![account, container, blob, block_id, content],
        )?;
        Ok(())
    }

    /// The uncommitted blocks of a blob by block id.
    pub fn blocks(
        &self,
        account: &str,
        container: &str,
        blob: &str,
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT block_id, content FROM blocks WHERE account = ?1 AND container = ?2 AND blob = ?3",
        )?;
        let rows = st.query_map([account, container, blob], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn clear_blocks(
        &self,
        account: &str,
        container: &str,
        blob: &str,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM blocks WHERE account = ?1 AND container = ?2 AND blob = ?3",
            [account, container, blob],
        )?;
        Ok(())
    }

    // --- data plane: Key Vault secrets ---

    pub fn put_secret_version(
        &self,
        vault: &str,
        name: &str,
        version: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO secrets(vault, name, version, body, deleted) VALUES(?1, ?2, ?3, ?4, NULL)",
            params![
                vault,
                name.to_lowercase(),
                version,
                serde_json::to_string(body)?
            ],
        )?;
        Ok(())
    }

    /// Replace one version's bundle (attribute updates).
    pub fn update_secret_version(
        &self,
        vault: &str,
        name: &str,
        version: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE secrets SET body = ?4 WHERE vault = ?1 AND name = ?2 AND version = ?3",
            params![
                vault,
                name.to_lowercase(),
                version,
                serde_json::to_string(body)?
            ],
        )?;
        Ok(())
    }

    /// Every version of a secret, oldest first (live and deleted alike).
    pub fn secret_versions(&self, vault: &str, name: &str) -> Result<Vec<SecretRow>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT name, version, body, deleted FROM secrets WHERE vault = ?1 AND name = ?2 ORDER BY seq",
        )?;
        let rows = st.query_map([vault, &name.to_lowercase()], secret_row)?;
        rows.map(|r| secret(r?)).collect()
    }

    /// The newest version of every secret of a vault, in name order.
    pub fn secrets_latest(&self, vault: &str) -> Result<Vec<SecretRow>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT name, version, body, deleted FROM secrets s WHERE vault = ?1
             AND seq = (SELECT max(seq) FROM secrets t WHERE t.vault = s.vault AND t.name = s.name)
             ORDER BY name",
        )?;
        let rows = st.query_map([vault], secret_row)?;
        rows.map(|r| secret(r?)).collect()
    }

    /// Mark every version of a secret deleted (`Some`) or live again (`None`).
    pub fn set_secret_deleted(
        &self,
        vault: &str,
        name: &str,
        deleted: Option<&Value>,
    ) -> Result<(), StoreError> {
        let d = match deleted {
            Some(v) => Some(serde_json::to_string(v)?),
            None => None,
        };
        self.tx.execute(
            "UPDATE secrets SET deleted = ?3 WHERE vault = ?1 AND name = ?2",
            params![vault, name.to_lowercase(), d],
        )?;
        Ok(())
    }

    /// Remove every version of a secret for good (purge).
    pub fn purge_secret(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.tx.execute(
            "DELETE FROM secrets WHERE vault = ?1 AND name = ?2",
            [vault, &name.to_lowercase()],
        )? > 0)
    }

    // --- meta and reset ---

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// Remove everything but the schema (used by reset before the world is loaded again).
    pub fn clear(&self) -> Result<(), StoreError> {
        self.cleared.set(true);
        self.tx.execute_batch(
            "DELETE FROM directory; DELETE FROM resources; DELETE FROM operations; DELETE FROM activity; DELETE FROM meta;
             DELETE FROM containers; DELETE FROM blobs; DELETE FROM blocks; DELETE FROM secrets;
             DELETE FROM log_rows;",
        )?;
        Ok(())
    }

    // --- whole-state dumps and raw loads (snapshots exported as world files) ---

    /// Every resource with the key of its owner ('' when none), in key order.
    pub fn all_resources(&self) -> Result<Vec<(Stored, String)>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached(&format!("SELECT {COLS}, owner FROM resources ORDER BY key"))?;
        let rows = st.query_map([], |r| Ok((row_to_stored(r)?, r.get::<_, String>(6)?)))?;
        rows.map(|r| {
            let (t, owner) = r?;
            Ok((stored(t)?, owner))
        })
        .collect()
    }

    /// Every meta entry in key order.
    pub fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT key, value FROM meta ORDER BY key")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every container as (account key, name, body), in that order.
    pub fn all_containers(&self) -> Result<Vec<(String, String, Value)>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT account, name, body FROM containers ORDER BY account, name")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })?;
        rows.map(|r| {
            let (a, n, b) = r?;
            Ok((a, n, serde_json::from_str(&b)?))
        })
        .collect()
    }

    /// Every blob with its content as (account key, container, row), in that order.
    pub fn all_blobs(&self) -> Result<Vec<(String, String, BlobRow)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT account, container, name, body, content FROM blobs ORDER BY account, container, name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        rows.map(|r| {
            let (a, c, name, b, content) = r?;
            Ok((
                a,
                c,
                BlobRow {
                    name,
                    body: serde_json::from_str(&b)?,
                    content: Some(content),
                },
            ))
        })
        .collect()
    }

    /// Every secret version as (vault key, row), by vault, name and age (oldest first).
    pub fn all_secrets(&self) -> Result<Vec<(String, SecretRow)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT vault, name, version, body, deleted FROM secrets ORDER BY vault, name, seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            ))
        })?;
        rows.map(|r| {
            let (v, t) = r?;
            Ok((v, secret(t)?))
        })
        .collect()
    }

    /// Put one secret version as it was stored, deletion record included (a snapshot's load).
    pub fn put_secret_raw(&self, vault: &str, row: &SecretRow) -> Result<(), StoreError> {
        let deleted = match &row.deleted {
            Some(d) => Some(serde_json::to_string(d)?),
            None => None,
        };
        self.tx.execute(
            "INSERT INTO secrets(vault, name, version, body, deleted) VALUES(?1, ?2, ?3, ?4, ?5)",
            params![
                vault,
                row.name.to_lowercase(),
                row.version,
                serde_json::to_string(&row.body)?,
                deleted
            ],
        )?;
        Ok(())
    }

    /// Every Log Analytics row as (workspace, table, TimeGenerated, body), oldest first.
    pub fn all_log_rows(&self) -> Result<Vec<(String, String, String, Value)>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT workspace, tbl, ts, body FROM log_rows ORDER BY seq")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (w, t, ts, b) = r?;
            Ok((w, t, ts, serde_json::from_str(&b)?))
        })
        .collect()
    }

    pub fn count(&self) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT count(*) FROM resources", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(key: &str, parent: &str) -> Stored {
        Stored {
            key: key.into(),
            rtype: "t".into(),
            sub: "s".into(),
            rg: "rg".into(),
            parent: parent.into(),
            body: json!({"id": key}),
        }
    }

    #[test]
    fn a_memo_is_built_once_and_never_outlives_a_write() {
        let store = Store::open(None).unwrap();
        let count = |store: &Store| store.memo("n", |tx| tx.count()).map(|n| *n).unwrap();
        assert_eq!(count(&store), 0);
        let first = store.memo("n", |_| Ok(99_i64)).unwrap();
        assert_eq!(*first, 0, "a kept memo is not built again");
        store.write(|tx| tx.put(&s("/a", "/"))).unwrap();
        assert_eq!(count(&store), 1, "a write empties the memos");
        // a failed write empties them too (whatever it may have touched)
        let _ = store.write(|_| -> Result<(), StoreError> { Err(StoreError("x".into())) });
        assert_eq!(*store.memo("n", |_| Ok(7_i64)).unwrap(), 7);
    }

    #[test]
    fn the_read_cache_never_outlives_a_write() {
        let store = Store::open(None).unwrap();
        assert!(store.get("/a").unwrap().is_none());
        store.write(|tx| tx.put(&s("/a", "/"))).unwrap();
        let first = store.get("/a").unwrap().unwrap();
        assert_eq!(first.body, json!({"id": "/a"}));
        assert_eq!(first.json(), br#"{"id":"/a"}"#);
        // a hit is the same row
        assert!(Arc::ptr_eq(&first, &store.get("/a").unwrap().unwrap()));
        // a committed change is seen at once
        let mut changed = s("/a", "/");
        changed.body = json!({"id": "/a", "v": 2});
        store.write(|tx| tx.put(&changed)).unwrap();
        assert_eq!(store.get("/a").unwrap().unwrap().body["v"], 2);
        // a rolled-back change is not
        let r: Result<(), StoreError> = store.write(|tx| {
            tx.put(&s("/a", "/"))?;
            Err(StoreError("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(store.get("/a").unwrap().unwrap().body["v"], 2);
        // a delete is seen at once
        store.write(|tx| tx.delete("/a")).unwrap();
        assert!(store.get("/a").unwrap().is_none());
        // the cache starts over when full
        store
            .write(|tx| -> Result<(), StoreError> {
                for i in 0..CACHE_MAX + 10 {
                    tx.put(&s(&format!("/r{i}"), "/"))?;
                }
                Ok(())
            })
            .unwrap();
        for i in 0..CACHE_MAX + 10 {
            assert!(store.get(&format!("/r{i}")).unwrap().is_some());
        }
        assert!(store.cache.read().unwrap().len() <= CACHE_MAX);
    }

    #[test]
    fn put_get_tree_and_rollback() {
        let store = Store::open(None).unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.put(&s("/a", "/"))?;
                tx.put(&s("/a/b", "/a"))?;
                tx.put(&s("/a/b/c", "/a/b"))?;
                tx.put(&s("/ab", "/"))?;
                Ok(())
            })
            .unwrap();
        let r: Result<(), StoreError> = store.write(|tx| {
            tx.put(&s("/x", "/"))?;
            Err(StoreError("boom".into()))
        });
        assert!(r.is_err());
        store
            .read(|tx| -> Result<(), StoreError> {
                assert!(tx.get("/x")?.is_none(), "rolled back");
                assert_eq!(tx.tree("/a")?.len(), 3);
                assert_eq!(tx.children("/a", "t")?.len(), 1);
                Ok(())
            })
            .unwrap();
        let gone = store.write(|tx| tx.delete_tree("/a")).unwrap();
        assert_eq!(gone.len(), 3);
        assert_eq!(store.read(|tx| tx.count()).unwrap(), 1);
    }

    #[test]
    fn owned_rows_go_with_their_owner_whatever_deletes_it() {
        let store = Store::open(None).unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                for (k, p) in [
                    ("/rg", "/"),
                    ("/rg/app", "/rg"),
                    ("/mrg", "/"),
                    ("/mrg/vm", "/mrg"),
                    ("/mrg/deny", "/mrg"),
                    ("/other", "/"),
                ] {
                    tx.put(&s(k, p))?;
                }
                tx.set_owner("/mrg", "/rg/app")?;
                tx.set_owner("/mrg/deny", "/rg/app")?;
                Ok(())
            })
            .unwrap();
        // deleting the owner's group (not the owner itself) takes the owned rows and their trees
        let gone = store.write(|tx| tx.delete_tree("/rg")).unwrap();
        let mut keys: Vec<&str> = gone.iter().map(|r| r.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["/mrg", "/mrg/deny", "/mrg/vm", "/rg", "/rg/app"]);
        assert_eq!(store.read(|tx| tx.count()).unwrap(), 1);
    }

    #[test]
    fn global_name_and_owner_lookups_use_their_indexes() {
        let store = Store::open(None).unwrap();
        let conn = store.conn.lock().unwrap();
        for (sql, index) in [
            (
                "SELECT key FROM resources WHERE rtype = 'a' AND name = 'b'",
                "resources_name",
            ),
            (
                "SELECT key FROM resources WHERE owner != '' AND (owner = 'k' OR (owner >= 'k/' AND owner < 'k0'))",
                "resources_owner",
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(plan.iter().any(|p| p.contains(index)), "{sql}: {plan:?}");
        }
    }

    #[test]
    fn a_copy_restores_into_a_file_store_and_empties_its_cache() {
        let dir = std::env::temp_dir().join(format!("lhe-store-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Store::open(Some(&dir.join("state.db"))).unwrap();
        st.write(|tx| tx.put(&s("/a", "/"))).unwrap();
        let saved = st.copy().unwrap();
        assert!(saved.size_bytes().unwrap() > 0);
        st.write(|tx| tx.put(&s("/b", "/"))).unwrap();
        st.write(|tx| tx.delete("/a")).unwrap();
        assert!(st.get("/b").unwrap().is_some(), "cached");
        st.restore_from(&saved).unwrap();
        assert!(st.get("/a").unwrap().is_some());
        assert!(
            st.get("/b").unwrap().is_none(),
            "the cache went with the restore"
        );
        drop(st);
        // the restore is durable: the file holds it
        let st = Store::open(Some(&dir.join("state.db"))).unwrap();
        assert_eq!(st.read(|tx| tx.count()).unwrap(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_store_reopens_with_its_schema() {
        let dir = std::env::temp_dir().join(format!("lhe-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        {
            let st = Store::open(Some(&path)).unwrap();
            st.write(|tx| tx.put(&s("/k", "/"))).unwrap();
        }
        let st = Store::open(Some(&path)).unwrap();
        assert!(st.read(|tx| tx.get("/k")).unwrap().is_some());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn version_1_state_migrates_to_3_keeping_its_rows() {
        let dir = std::env::temp_dir().join(format!("lhe-store-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        {
            // a state file exactly as schema 1 wrote it
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO resources(key, rtype, sub, rg, parent, body) VALUES('/k','t','s','rg','/','{}')",
                [],
            )
            .unwrap();
        }
        let st = Store::open(Some(&path)).unwrap();
        let v: i64 = st
            .conn
            .lock()
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(v, 4);
        assert!(
            st.read(|tx| tx.get("/k")).unwrap().is_some(),
            "v1 rows survive"
        );
        // schema 3 fills the name index of the rows it finds
        assert_eq!(
            st.read(|tx| tx.by_type_and_name("t", "K")).unwrap().len(),
            1
        );
        st.write(|tx| -> Result<(), StoreError> {
            tx.put_container("/acct", "c", &json!({"etag": "e"}))?;
            tx.put_blob("/acct", "c", "b.txt", b"hello", &json!({"size": 5}))?;
            tx.put_secret_version("/kv", "Pw", "v1", &json!({"value": "a"}))?;
            tx.put_secret_version("/kv", "pw", "v2", &json!({"value": "b"}))?;
            // schema 4: Log Analytics rows, by workspace and table, case-insensitively
            tx.append_log_row(
                "WS",
                "AzureActivity",
                "2026-01-01T00:00:00Z",
                &json!({"a": 1}),
            )?;
            Ok(())
        })
        .unwrap();
        drop(st);
        let st = Store::open(Some(&path)).unwrap();
        st.read(|tx| -> Result<(), StoreError> {
            let rows = tx.log_rows("ws", "azureactivity", |t| Ok(t.to_string()))?;
            assert_eq!(rows, [r#"{"a":1}"#]);
            assert_eq!(tx.log_tables("ws")?, ["azureactivity"]);
            let b = tx.blob("/acct", "c", "b.txt", true)?.unwrap();
            assert_eq!(b.content.as_deref(), Some(&b"hello"[..]));
            assert_eq!(tx.blobs("/acct", "c", "b")?.len(), 1);
            assert_eq!(tx.blobs("/acct", "c", "x")?.len(), 0);
            let latest = tx.secrets_latest("/kv")?;
            assert_eq!(latest.len(), 1);
            assert_eq!(latest[0].version, "v2");
            assert_eq!(tx.secret_versions("/kv", "PW")?.len(), 2);
            Ok(())
        })
        .unwrap();
        // reset empties the data plane too
        st.write(|tx| tx.clear()).unwrap();
        assert!(st.read(|tx| tx.container("/acct", "c")).unwrap().is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
