//! Where pools live and how their bytes are touched (plasma spec 5, 6.3, 6.6,
//! 6.8, 6.9): the pools directory ([`Pools`]), create/dispose/rename/list, the
//! memmap2 mapping of a backing file ([`Pool`]), lock-free reads, deposits under
//! the pool's own lock kind (System V semaphores or flock files), resize.
//!
//! This file is the engine's only home of `unsafe`: raw loads and stores into
//! the shared mapping and the System V semaphore calls (nix has no binding for
//! them). Every access is bounds-checked against the mapped length first.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};
use nix::fcntl::{Flock, FlockArg};

use super::codec::{self, Layout, NewHeader, Perm};
use super::protocol::{self, PlanError, Ptrs, Ring, TocEntry, Words};
use super::{Error, Result};
use crate::engine::slaw::Slaw;

/// Largest pool size accepted (spec 6.8: 8 TiB on 64-bit).
pub const MAX_POOL_SIZE: u64 = 8 << 40;
/// Pool sizes are rounded up to this.
pub const SIZE_GRANULE: u64 = 4096;
/// Default size of `pool create` (p-create's default).
pub const DEFAULT_POOL_SIZE: u64 = 1 << 20;

/// A pools directory: the explicit context every pool operation runs in.
#[derive(Debug, Clone)]
pub struct Pools {
    dir: PathBuf,
}

/// Options of `create` (spec 6.8).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateOptions {
    /// Total backing-file size in bytes (rounded up to 4096).
    pub size: u64,
    /// TOC capacity (0 = no TOC).
    pub toc_capacity: u64,
    /// Directory version 6: the pool is one file.
    pub single_file: bool,
    /// Refuse deposits instead of overwriting.
    pub stop_when_full: bool,
    /// Refuse deposits.
    pub frozen: bool,
    /// msync after every deposit.
    pub sync: bool,
    /// flock files instead of System V semaphores.
    pub flock: bool,
    /// Per-entry checksums (libLoam's CityHash64 with seeds, verified on read).
    pub checksum: bool,
    /// Legacy (directory version 4) pool when false (refused).
    pub resizable: bool,
    /// Permission bits for the pool's files and directories.
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Group gid.
    pub gid: Option<u32>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            size: DEFAULT_POOL_SIZE,
            toc_capacity: 0,
            single_file: false,
            stop_when_full: false,
            frozen: false,
            sync: false,
            flock: cfg!(target_os = "macos"),
            checksum: false,
            resizable: true,
            mode: None,
            uid: None,
            gid: None,
        }
    }
}

/// Options that can change after creation (spec 6.8 "change" column).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeOptions {
    /// New size (= resize).
    pub size: Option<u64>,
    /// Set or clear stop-when-full.
    pub stop_when_full: Option<bool>,
    /// Set or clear frozen.
    pub frozen: Option<bool>,
    /// Set or clear auto-dispose.
    pub auto_dispose: Option<bool>,
    /// Set or clear sync.
    pub sync: Option<bool>,
}

/// Paths of one pool.
#[derive(Debug, Clone)]
pub struct PoolPaths {
    /// The name as given.
    pub name: String,
    /// The pool directory (directory-version 5), or the file itself (6).
    pub root: PathBuf,
    /// The backing file.
    pub backing: PathBuf,
    /// pool.conf (directory-version 5 only).
    pub conf: Option<PathBuf>,
    /// Notification FIFO directory.
    pub notify_dir: PathBuf,
    /// flock lock-file directory.
    pub locks_dir: PathBuf,
}

impl PoolPaths {
    fn v5(name: &str, root: PathBuf) -> Self {
        PoolPaths {
            name: name.to_string(),
            backing: root.join("mmap-pool"),
            conf: Some(root.join("pool.conf")),
            notify_dir: root.join("notification"),
            locks_dir: root.join("locks"),
            root,
        }
    }

    fn v6(name: &str, root: PathBuf) -> Self {
        // Single-file pools insert an extra directory before the last component.
        let parent = root.parent().map(Path::to_path_buf).unwrap_or_default();
        let last = root
            .file_name()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        PoolPaths {
            name: name.to_string(),
            backing: root.clone(),
            conf: None,
            notify_dir: parent.join(".notification").join(&last),
            locks_dir: parent.join(".plasma-locks").join(&last),
            root,
        }
    }
}

fn io_err(pool: &str, op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        pool: pool.to_string(),
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Takes an exclusive, non-blocking `flock` on a pool's backing file: held, it
/// proves no hose has the pool open (every hose holds a shared one, as libPlasma's
/// do). POOL_IN_USE when one does.
fn exclusive_backing_lock(paths: &PoolPaths) -> Result<Flock<File>> {
    let name = &paths.name;
    let f = match File::open(&paths.backing) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoSuchPool { pool: name.clone() })
        }
        Err(e) => return Err(io_err(name, "open", &paths.backing, e)),
    };
    let mut f = f;
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(g) => return Ok(g),
            Err((back, nix::errno::Errno::EINTR)) => f = back,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(Error::InUse { pool: name.clone() })
            }
            Err((_, e)) => {
                return Err(io_err(
                    name,
                    "flock",
                    &paths.backing,
                    std::io::Error::from(e),
                ))
            }
        }
    }
}

impl Pools {
    /// A pools directory at `dir` (not created until a pool is).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Pools { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves a name (`foo/bar` or `local:/abs/path`) to the pool's root path,
    /// checking the name rules.
    pub fn root(&self, name: &str) -> Result<PathBuf> {
        if let Some(abs) = name.strip_prefix("local:") {
            let p = Path::new(abs);
            if !p.is_absolute() {
                return Err(Error::BadName {
                    pool: name.into(),
                    reason: "local: needs an absolute path".into(),
                });
            }
            let last = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
            protocol::check_name(last).map_err(|reason| Error::BadName {
                pool: name.into(),
                reason,
            })?;
            if p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(Error::BadName {
                    pool: name.into(),
                    reason: "'..' components are not allowed".into(),
                });
            }
            return Ok(p.to_path_buf());
        }
        if name.contains("://") {
            return Err(Error::Unsupported {
                pool: name.into(),
                what: "a remote pool in a local pool operation".into(),
            });
        }
        protocol::check_name(name).map_err(|reason| Error::BadName {
            pool: name.into(),
            reason,
        })?;
        Ok(self.dir.join(name))
    }

    /// The paths of an existing pool (deciding directory version 5 or 6).
    pub fn paths(&self, name: &str) -> Result<PoolPaths> {
        let root = self.root(name)?;
        match fs::symlink_metadata(&root) {
            Ok(m) if m.is_file() => Ok(PoolPaths::v6(name, root)),
            Ok(m)
                if m.is_dir()
                    && (root.join("mmap-pool").exists() || root.join("pool.conf").exists()) =>
            {
                Ok(PoolPaths::v5(name, root))
            }
            _ => Err(Error::NoSuchPool { pool: name.into() }),
        }
    }

    /// Whether any hose (of this or another process, libPlasma's included) has
    /// the pool open (`pool_check_in_use`): the test libPlasma's dispose and
    /// rename make, without side effects.
    pub fn in_use(&self, name: &str) -> Result<bool> {
        let paths = self.paths(name)?;
        match exclusive_backing_lock(&paths) {
            Ok(_) => Ok(false),
            Err(Error::InUse { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Whether a pool of that name exists.
    pub fn exists(&self, name: &str) -> bool {
        self.paths(name).is_ok()
    }

    /// Creates a pool (spec 5.3, 6.1, 6.8).
    pub fn create(&self, name: &str, opts: &CreateOptions) -> Result<()> {
        let root = self.root(name)?;
        if !opts.resizable {
            return Err(Error::Unsupported {
                pool: name.into(),
                what: "creating a legacy (non-resizable, directory version 4) pool".into(),
            });
        }
        let header_size = codec::header_size_for(opts.toc_capacity);
        let size = checked_size(name, opts.size, header_size)?;
        if self.exists(name) || root.exists() && !root.is_dir() {
            return Err(Error::Exists { pool: name.into() });
        }
        self.check_nesting(name, &root)?;
        let paths = if opts.single_file {
            PoolPaths::v6(name, root.clone())
        } else {
            PoolPaths::v5(name, root.clone())
        };
        let dir_mode = opts.mode.map(|m| m & 0o777).unwrap_or(0o777);
        let parent = if opts.single_file {
            root.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            root.clone()
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(&parent)
            .map_err(|e| io_err(name, "create directory", &parent, e))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o777)
            .create(&paths.notify_dir)
            .map_err(|e| io_err(name, "create notification directory", &paths.notify_dir, e))?;
        // Sticky and world-writable so every user's awaiters can add FIFOs (the umask would clear it).
        let _ = fs::set_permissions(&paths.notify_dir, fs::Permissions::from_mode(0o1777));
        if opts.flock {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o777)
                .create(&paths.locks_dir)
                .map_err(|e| io_err(name, "create locks directory", &paths.locks_dir, e))?;
            for f in ["deposit.lock", "notify.lock"] {
                let p = paths.locks_dir.join(f);
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .mode(0o666)
                    .open(&p)
                    .map_err(|e| io_err(name, "create lock file", &p, e))?;
            }
        }
        let mut flags = 0;
        if opts.stop_when_full {
            flags |= codec::FLAG_STOP_WHEN_FULL;
        }
        if opts.frozen {
            flags |= codec::FLAG_FROZEN;
        }
        if opts.sync {
            flags |= codec::FLAG_SYNC;
        }
        if opts.flock {
            flags |= codec::FLAG_FLOCK;
        }
        if opts.checksum {
            flags |= codec::FLAG_CHECKSUM;
        }
        let sem_key = if opts.flock {
            random_sem_key()
        } else {
            sem::create_fresh(name)?
        };
        let perm = Perm {
            mode: opts.mode.map(i64::from).unwrap_or(-1),
            uid: opts.uid.map(i64::from).unwrap_or(-1),
            gid: opts.gid.map(i64::from).unwrap_or(-1),
        };
        let header = codec::encode_header(&NewHeader {
            file_size: size,
            toc_capacity: opts.toc_capacity,
            sem_key,
            flags,
            perm,
        });
        let file_mode = opts.mode.map(|m| m & 0o666).unwrap_or(0o666);
        // Write under a temporary name and rename, so openers never see a half-written header.
        let tmp = paths.backing.with_file_name(format!(
            ".{}.tmp-{}",
            paths
                .backing
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("pool"),
            std::process::id()
        ));
        let result = (|| {
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(file_mode)
                .open(&tmp)
                .map_err(|e| io_err(name, "create backing file", &tmp, e))?;
            f.set_len(size)
                .map_err(|e| io_err(name, "size backing file", &tmp, e))?;
            f.write_all(&header)
                .map_err(|e| io_err(name, "write header", &tmp, e))?;
            if opts.sync {
                f.sync_all()
                    .map_err(|e| io_err(name, "sync backing file", &tmp, e))?;
            }
            apply_owner(name, &tmp, opts)?;
            if let Some(conf) = &paths.conf {
                let mut c = OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .mode(file_mode)
                    .open(conf)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => Error::Exists { pool: name.into() },
                        _ => io_err(name, "create pool.conf", conf, e),
                    })?;
                c.write_all(&codec::encode_pool_conf(5))
                    .map_err(|e| io_err(name, "write pool.conf", conf, e))?;
                apply_owner(name, conf, opts)?;
            }
            if paths.backing.exists() {
                return Err(Error::Exists { pool: name.into() });
            }
            fs::rename(&tmp, &paths.backing)
                .map_err(|e| io_err(name, "install backing file", &paths.backing, e))?;
            if !opts.single_file {
                apply_owner(name, &root, opts)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
            if !opts.flock {
                sem::remove(sem_key);
            }
        }
        result
    }

    fn check_nesting(&self, name: &str, root: &Path) -> Result<()> {
        let nested = |reason: &str| Error::IllegalNesting {
            pool: name.into(),
            reason: reason.into(),
        };
        let is_pool =
            |p: &Path| p.join("pool.conf").exists() || p.join("mmap-pool").exists() || p.is_file();
        let mut up = root.parent();
        while let Some(dir) = up {
            if dir == self.dir || !dir.starts_with(&self.dir) {
                break;
            }
            if is_pool(dir) {
                return Err(nested("a parent of this name is a pool"));
            }
            up = dir.parent();
        }
        if root.is_dir() && fs::read_dir(root).is_ok_and(|mut d| d.next().is_some()) {
            return Err(nested(
                "a directory with pools in it exists under this name",
            ));
        }
        Ok(())
    }

    /// Removes a pool and everything created with it, including its System V
    /// semaphore set and empty parent directories of nested names.
    /// Hoses still open keep reading their (now unlinked) file; use
    /// [`dispose_unused`](Self::dispose_unused) for libPlasma's refusal.
    pub fn dispose(&self, name: &str) -> Result<()> {
        let paths = self.paths(name)?;
        self.dispose_paths(name, &paths)
    }

    /// Disposes like libPlasma's `pool_dispose`: refused with POOL_IN_USE while
    /// any hose (a [`Pool`] of this or another process, libPlasma's included)
    /// has the pool open. Every hose holds a shared `flock` on the backing file;
    /// disposal takes an exclusive one and holds it until the files are gone.
    pub fn dispose_unused(&self, name: &str) -> Result<()> {
        let paths = self.paths(name)?;
        let _excl = exclusive_backing_lock(&paths)?;
        self.dispose_paths(name, &paths)
    }

    /// Disposes without the in-use check (the caller holds the exclusive lock).
    fn dispose_paths(&self, name: &str, paths: &PoolPaths) -> Result<()> {
        // Remove the semaphore set the header names; a corrupt header must not prevent disposal.
        if let Ok(layout) = read_layout(name, &paths.backing) {
            if layout.flags & codec::FLAG_FLOCK == 0 {
                sem::remove(layout.sem_key);
            }
        }
        let rm_dir = |p: &Path| match fs::remove_dir_all(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(name, "remove", p, e)),
            _ => Ok(()),
        };
        if paths.conf.is_some() {
            rm_dir(&paths.root)?;
        } else {
            fs::remove_file(&paths.backing)
                .map_err(|e| io_err(name, "remove", &paths.backing, e))?;
            rm_dir(&paths.notify_dir)?;
            rm_dir(&paths.locks_dir)?;
            for d in [&paths.notify_dir, &paths.locks_dir] {
                if let Some(p) = d.parent() {
                    let _ = fs::remove_dir(p);
                }
            }
        }
        if !name.starts_with("local:") {
            let mut p = paths.root.parent();
            while let Some(dir) = p {
                if dir == self.dir || !dir.starts_with(&self.dir) || fs::remove_dir(dir).is_err() {
                    break;
                }
                p = dir.parent();
            }
        }
        Ok(())
    }

    /// Renames a pool (`p-rename`), even while hoses have it open (they keep
    /// working: the files move, not change); see
    /// [`rename_unused`](Self::rename_unused) for libPlasma's refusal.
    pub fn rename(&self, old: &str, new: &str) -> Result<()> {
        self.rename_inner(old, new, false)
    }

    /// Renames like libPlasma's `pool_rename`: refused with POOL_IN_USE while
    /// any hose has the pool open.
    pub fn rename_unused(&self, old: &str, new: &str) -> Result<()> {
        self.rename_inner(old, new, true)
    }

    fn rename_inner(&self, old: &str, new: &str, check_in_use: bool) -> Result<()> {
        let from = self.paths(old)?;
        let to_root = self.root(new)?;
        if self.exists(new) || to_root.exists() {
            return Err(Error::Exists { pool: new.into() });
        }
        if from.conf.is_none() {
            return Err(Error::ImpossibleRename {
                pool: old.into(),
                reason: "single-file pools keep FIFOs and locks beside them; recreate instead"
                    .into(),
            });
        }
        if to_root.starts_with(&from.root) {
            return Err(Error::ImpossibleRename {
                pool: old.into(),
                reason: "cannot move a pool inside itself".into(),
            });
        }
        let _excl = if check_in_use {
            Some(exclusive_backing_lock(&from)?)
        } else {
            None
        };
        if let Some(parent) = to_root.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o777)
                .create(parent)
                .map_err(|e| io_err(new, "create directory", parent, e))?;
        }
        fs::rename(&from.root, &to_root).map_err(|e| Error::ImpossibleRename {
            pool: old.into(),
            reason: e.to_string(),
        })?;
        let mut p = from.root.parent();
        while let Some(dir) = p {
            if dir == self.dir || !dir.starts_with(&self.dir) || fs::remove_dir(dir).is_err() {
                break;
            }
            p = dir.parent();
        }
        Ok(())
    }

    /// All pools under the directory, recursively, sorted by name.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::NoPoolsDir {
                    dir: self.dir.clone(),
                    detail: "not a directory".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(Error::NoPoolsDir {
                    dir: self.dir.clone(),
                    detail: e.to_string(),
                })
            }
        }
        walk(&self.dir, "", 0, &mut out);
        out.sort();
        Ok(out)
    }

    /// Opens a pool for reading and depositing.
    pub fn open(&self, name: &str) -> Result<Pool> {
        Pool::open(self.paths(name)?, &self.dir)
    }

    /// Opens a pool, creating it with `opts` when missing
    /// (`pool_participate_creatingly`). Returns whether it was created.
    pub fn open_or_create(&self, name: &str, opts: &CreateOptions) -> Result<(Pool, bool)> {
        match self.open(name) {
            Ok(p) => Ok((p, false)),
            Err(Error::NoSuchPool { .. }) => match self.create(name, opts) {
                Ok(()) => Ok((self.open(name)?, true)),
                Err(Error::Exists { .. }) => Ok((self.open(name)?, false)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
    // Deep trees are not pools directories anyone made by hand; bound the walk.
    if depth > 32 {
        return;
    }
    let Ok(rd) = fs::read_dir(dir) else { return };
    for ent in rd.flatten() {
        let Some(fname) = ent.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if fname.starts_with('.') {
            continue;
        }
        let name = if prefix.is_empty() {
            fname.clone()
        } else {
            format!("{prefix}/{fname}")
        };
        let Ok(ft) = ent.file_type() else { continue };
        let path = ent.path();
        if ft.is_dir() {
            if path.join("pool.conf").exists() || path.join("mmap-pool").exists() {
                out.push(name);
            } else {
                walk(&path, &name, depth + 1, out);
            }
        } else if ft.is_file() && is_backing_file(&path) {
            out.push(name);
        }
    }
}

fn is_backing_file(p: &Path) -> bool {
    let mut b = [0u8; 8];
    File::open(p)
        .and_then(|mut f| f.read_exact(&mut b))
        .map(|_| b[0..4] == codec::MAGIC && b[5] == codec::FILE_TYPE_POOL)
        .unwrap_or(false)
}

fn checked_size(name: &str, size: u64, header_size: u64) -> Result<u64> {
    let bad = |reason: String| Error::InvalidSize {
        pool: name.into(),
        size,
        reason,
    };
    if size > MAX_POOL_SIZE {
        return Err(bad(format!("larger than {MAX_POOL_SIZE} bytes")));
    }
    let rounded = size.div_ceil(SIZE_GRANULE) * SIZE_GRANULE;
    if rounded < header_size + 1000 {
        return Err(bad(format!(
            "smaller than the header ({header_size} bytes) plus 1000"
        )));
    }
    Ok(rounded)
}

fn apply_owner(name: &str, p: &Path, opts: &CreateOptions) -> Result<()> {
    if opts.uid.is_some() || opts.gid.is_some() {
        std::os::unix::fs::chown(p, opts.uid, opts.gid).map_err(|e| io_err(name, "chown", p, e))?;
    }
    if let Some(m) = opts.mode {
        let m = if p.is_dir() { m & 0o777 } else { m & 0o666 };
        fs::set_permissions(p, fs::Permissions::from_mode(m))
            .map_err(|e| io_err(name, "chmod", p, e))?;
    }
    Ok(())
}

fn random_sem_key() -> i64 {
    i64::from(0x0b80_0000u32 | (rand::random::<u32>() & 0x007f_ffff))
}

fn read_layout(name: &str, backing: &Path) -> Result<Layout> {
    let f = File::open(backing).map_err(|e| io_err(name, "open", backing, e))?;
    read_layout_from(name, &f)
}

fn read_layout_from(name: &str, f: &File) -> Result<Layout> {
    Ok(read_layout_ext(name, f)?.0)
}

/// The layout and whether the file is big-endian (written on a big-endian
/// machine: every header and entry word byte-swapped; tidepool reads such pools
/// and refuses to write them).
fn read_layout_ext(name: &str, f: &File) -> Result<(Layout, bool)> {
    let len = f
        .metadata()
        .map_err(|e| io_err(name, "stat", Path::new(""), e))?
        .len();
    let mut prefix = vec![0u8; codec::MIN_HEADER_PREFIX as usize];
    f.read_exact_at(&mut prefix, 0)
        .map_err(|_| Error::Corrupt {
            pool: name.into(),
            detail: format!("backing file of {len} bytes is shorter than a header"),
        })?;
    let big = codec::is_big_endian(&prefix);
    if big {
        prefix = codec::header_to_native(&prefix);
    }
    let hs = codec::peek_header_size(&prefix).map_err(|e| header_err(name, e))?;
    if hs > len || hs > 1 << 30 {
        return Err(Error::Corrupt {
            pool: name.into(),
            detail: format!("header size {hs} exceeds the {len}-byte file"),
        });
    }
    let mut buf = vec![0u8; hs as usize];
    f.read_exact_at(&mut buf, 0)
        .map_err(|e| io_err(name, "read header", Path::new(""), e))?;
    if big {
        buf = codec::header_to_native(&buf);
    }
    let layout = codec::parse_header(&buf).map_err(|e| header_err(name, e))?;
    if layout.file_size > len {
        return Err(Error::Corrupt {
            pool: name.into(),
            detail: format!(
                "header says {} bytes but the file has {len} (truncated?)",
                layout.file_size
            ),
        });
    }
    Ok((layout, big))
}

fn header_err(name: &str, e: codec::HeaderError) -> Error {
    match e {
        codec::HeaderError::Version(detail) => Error::WrongVersion {
            pool: name.into(),
            detail,
        },
        other => Error::Corrupt {
            pool: name.into(),
            detail: other.to_string(),
        },
    }
}

/// Parses a backing file's header from bytes (for tools and the fuzz target):
/// never panics, whatever the bytes.
pub fn inspect_header(bytes: &[u8]) -> std::result::Result<Layout, codec::HeaderError> {
    let swapped;
    let bytes = if codec::is_big_endian(bytes) {
        let n = bytes.len().min(codec::MIN_HEADER_PREFIX as usize);
        let hs = codec::peek_header_size(&codec::header_to_native(&bytes[..n]))?;
        let end = bytes.len().min(usize::try_from(hs).unwrap_or(usize::MAX));
        let mut native = codec::header_to_native(&bytes[..end]);
        native.extend_from_slice(&bytes[native.len()..]);
        swapped = native;
        &swapped[..]
    } else {
        bytes
    };
    let hs = codec::peek_header_size(bytes)?;
    if hs > bytes.len() as u64 {
        return Err(codec::HeaderError::Truncated {
            need: hs,
            have: bytes.len() as u64,
        });
    }
    let l = codec::parse_header(bytes)?;
    if l.file_size > bytes.len() as u64 {
        return Err(codec::HeaderError::Truncated {
            need: l.file_size,
            have: bytes.len() as u64,
        });
    }
    Ok(l)
}

// ---------------------------------------------------------------------------
// The mapping

/// A shared mapping with bounds-checked word and byte access. Other processes
/// write the same memory concurrently; readers validate what they copied by
/// re-reading the pool's pointers afterwards (spec 6.3), so every load here is
/// a volatile or atomic load that may observe any value.
struct Map {
    raw: MmapRaw,
    len: u64,
    /// Words are in the other byte order (a pool from a big-endian machine).
    swap: bool,
}

impl Map {
    fn new(file: &File, len: u64, writable: bool, swap: bool) -> std::io::Result<Map> {
        let n = usize::try_from(len)
            .map_err(|_| std::io::Error::other("pool larger than the address space"))?;
        let mut o = MmapOptions::new();
        o.len(n);
        let raw = if writable {
            o.map_raw(file)?
        } else {
            o.map_raw_read_only(file)?
        };
        Ok(Map { raw, len, swap })
    }

    fn in_bounds(&self, off: u64, n: u64) -> bool {
        off.checked_add(n).is_some_and(|end| end <= self.len)
    }

    fn load(&self, off: u64) -> Option<u64> {
        if !self.in_bounds(off, 8) || !off.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `off..off+8` lies inside the live mapping (checked above) and is
        // 8-aligned (the mapping is page-aligned); another process may store to it
        // at any time, which AtomicU64 tolerates.
        let a = unsafe { &*(self.raw.as_ptr().add(off as usize) as *const AtomicU64) };
        let v = a.load(Ordering::Acquire);
        Some(if self.swap { v.swap_bytes() } else { v })
    }

    /// The 8 bytes at `off` as stored (for protein headers, which carry their
    /// own byte order), read as a little-endian word.
    fn load_raw(&self, off: u64) -> Option<u64> {
        let v = self.load(off)?;
        Some(if self.swap { v.swap_bytes() } else { v })
    }

    fn store(&self, off: u64, v: u64) -> bool {
        if !self.in_bounds(off, 8) || !off.is_multiple_of(8) {
            return false;
        }
        // SAFETY: as in `load`; the mapping is writable when this is reached
        // (only deposit paths store, and they require a writable open).
        let a = unsafe { &*(self.raw.as_mut_ptr().add(off as usize) as *const AtomicU64) };
        a.store(
            if self.swap { v.swap_bytes() } else { v },
            Ordering::Release,
        );
        true
    }

    /// Replaces `out`'s contents with `n` bytes from `off`, without zeroing
    /// the buffer first.
    fn copy_to_vec(&self, off: u64, n: u64, out: &mut Vec<u8>) -> bool {
        let Ok(len) = usize::try_from(n) else {
            return false;
        };
        if !self.in_bounds(off, n) {
            return false;
        }
        out.clear();
        out.reserve(len);
        // SAFETY: the source range is inside the mapping (checked) and `out` has
        // room for `len` bytes (reserved) in a distinct allocation; the bytes are
        // initialised by the copy before `set_len` exposes them. Concurrent
        // writers may change the source while it is copied; callers treat the
        // copy as untrusted until re-validated.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.raw.as_ptr().add(off as usize),
                out.as_mut_ptr(),
                len,
            );
            out.set_len(len);
        }
        true
    }

    fn copy_in(&self, off: u64, data: &[u8]) -> bool {
        if !self.in_bounds(off, data.len() as u64) {
            return false;
        }
        // SAFETY: destination inside the writable mapping (checked); the deposit
        // lock is held, so no other writer touches this range, and readers only
        // trust it after newest_entry is published.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.raw.as_mut_ptr().add(off as usize),
                data.len(),
            );
        }
        true
    }

    fn flush(&self, off: u64, n: u64) -> std::io::Result<()> {
        if !self.in_bounds(off, n) {
            return Ok(());
        }
        self.raw.flush_range(off as usize, n as usize)
    }
}

struct TocWords<'a> {
    map: &'a Map,
    base: u64,
    words: u64,
}

impl Words for TocWords<'_> {
    fn get(&self, i: u64) -> u64 {
        if i >= self.words {
            return 0;
        }
        self.map.load(self.base + 8 * i).unwrap_or(0)
    }
    fn set(&mut self, i: u64, v: u64) {
        if i < self.words {
            self.map.store(self.base + 8 * i, v);
        }
    }
}

// ---------------------------------------------------------------------------
// Locks (spec 6.6)

mod sem {
    //! System V semaphore sets of semaphore-locked pools: #0 deposit, #1
    //! notification, both binary, SEM_UNDO on every operation so a killed
    //! holder releases its lock.
    use super::{Error, Result};

    const NSEMS: i32 = 2;

    fn os() -> std::io::Error {
        std::io::Error::last_os_error()
    }

    /// Creates a new set under a fresh random key; returns the key.
    pub fn create_fresh(pool: &str) -> Result<i64> {
        for _ in 0..64 {
            let key = super::random_sem_key();
            match create_with_key(key as i32) {
                Ok(_) => return Ok(key),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(source) => {
                    return Err(Error::Lock {
                        pool: pool.into(),
                        op: "semget",
                        source,
                    })
                }
            }
        }
        Err(Error::Lock {
            pool: pool.into(),
            op: "semget",
            source: std::io::Error::other("no free semaphore key after 64 tries"),
        })
    }

    fn create_with_key(key: i32) -> std::io::Result<i32> {
        // SAFETY: semget takes plain integers and has no memory effects on us.
        let id = unsafe { libc::semget(key, NSEMS, 0o666 | libc::IPC_CREAT | libc::IPC_EXCL) };
        if id < 0 {
            return Err(os());
        }
        for n in 0..NSEMS {
            // SAFETY: SETVAL passes an int as the variadic argument, as semctl(2) expects.
            if unsafe { libc::semctl(id, n, libc::SETVAL, 1) } < 0 {
                return Err(os());
            }
        }
        Ok(id)
    }

    /// Opens the set of `key`, re-creating it (same key) after a reboot or
    /// `p-sleep` removed it, as libPlasma does.
    pub fn open(pool: &str, key: i64) -> Result<i32> {
        let k = key as i32;
        loop {
            // SAFETY: plain integers in, an id or -1 out.
            let id = unsafe { libc::semget(k, 0, 0o666) };
            if id >= 0 {
                return Ok(id);
            }
            let e = os();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(Error::Lock {
                    pool: pool.into(),
                    op: "semget",
                    source: e,
                });
            }
            match create_with_key(k) {
                Ok(id) => return Ok(id),
                // Someone else re-created it between our two calls: open theirs.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(source) => {
                    return Err(Error::Lock {
                        pool: pool.into(),
                        op: "semget create",
                        source,
                    })
                }
            }
        }
    }

    /// Adds `delta` to semaphore `n` with SEM_UNDO, retrying on EINTR.
    pub fn op(id: i32, n: u16, delta: i16) -> std::io::Result<()> {
        let mut b = libc::sembuf {
            sem_num: n,
            sem_op: delta,
            sem_flg: libc::SEM_UNDO as libc::c_short,
        };
        loop {
            // SAFETY: `b` is a valid sembuf for the duration of the call; nsops = 1.
            if unsafe { libc::semop(id, &mut b, 1) } == 0 {
                return Ok(());
            }
            let e = os();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }

    /// Whether a set with `key` exists.
    #[cfg(test)]
    pub fn exists(key: i64) -> bool {
        // SAFETY: plain integers in, an id or -1 out.
        unsafe { libc::semget(key as i32, 0, 0o666) >= 0 }
    }

    /// Removes the set of `key`, if it exists.
    pub fn remove(key: i64) {
        // SAFETY: plain integers; IPC_RMID takes no variadic argument we rely on.
        unsafe {
            let id = libc::semget(key as i32, 0, 0o666);
            if id >= 0 {
                libc::semctl(id, 0, libc::IPC_RMID);
            }
        }
    }
}

/// Which of a pool's two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Serialises deposits, resize and option changes.
    Deposit,
    /// Serialises FIFO creation and the wake-up scan.
    Notify,
}

enum Locks {
    Sem(i32),
    Flock {
        deposit: Option<File>,
        notify: Option<File>,
        deposit_path: PathBuf,
        notify_path: PathBuf,
        held: [Option<Flock<File>>; 2],
    },
}

impl Locks {
    fn open(paths: &PoolPaths, layout: &Layout) -> Result<Locks> {
        if layout.flags & codec::FLAG_FLOCK == 0 {
            return Ok(Locks::Sem(sem::open(&paths.name, layout.sem_key)?));
        }
        let open = |f: &str| -> Result<(File, PathBuf)> {
            let p = paths.locks_dir.join(f);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o666)
                .open(&p)
                .map_err(|source| Error::Lock {
                    pool: paths.name.clone(),
                    op: "open lock file",
                    source,
                })?;
            Ok((file, p))
        };
        let _ = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o777)
            .create(&paths.locks_dir);
        let (d, dp) = open("deposit.lock")?;
        let (n, np) = open("notify.lock")?;
        Ok(Locks::Flock {
            deposit: Some(d),
            notify: Some(n),
            deposit_path: dp,
            notify_path: np,
            held: [None, None],
        })
    }

    fn lock(&mut self, pool: &str, which: LockKind) -> Result<()> {
        match self {
            Locks::Sem(id) => sem::op(*id, which as u16, -1).map_err(|source| Error::Lock {
                pool: pool.into(),
                op: "semop lock",
                source,
            }),
            Locks::Flock {
                deposit,
                notify,
                deposit_path,
                notify_path,
                held,
            } => {
                let (slot, path) = match which {
                    LockKind::Deposit => (deposit, deposit_path),
                    LockKind::Notify => (notify, notify_path),
                };
                let f = match slot.take() {
                    Some(f) => f,
                    None => File::open(&*path).map_err(|source| Error::Lock {
                        pool: pool.into(),
                        op: "reopen lock file",
                        source,
                    })?,
                };
                let g = Flock::lock(f, FlockArg::LockExclusive).map_err(|(f, e)| {
                    *slot = Some(f);
                    Error::Lock {
                        pool: pool.into(),
                        op: "flock",
                        source: std::io::Error::from(e),
                    }
                })?;
                held[which as usize] = Some(g);
                Ok(())
            }
        }
    }

    fn unlock(&mut self, pool: &str, which: LockKind) -> Result<()> {
        match self {
            Locks::Sem(id) => sem::op(*id, which as u16, 1).map_err(|source| Error::Lock {
                pool: pool.into(),
                op: "semop unlock",
                source,
            }),
            Locks::Flock {
                deposit,
                notify,
                held,
                ..
            } => {
                if let Some(g) = held[which as usize].take() {
                    let slot = match which {
                        LockKind::Deposit => deposit,
                        LockKind::Notify => notify,
                    };
                    match g.unlock() {
                        Ok(f) => *slot = Some(f),
                        Err((g, e)) => {
                            drop(g);
                            return Err(Error::Lock {
                                pool: pool.into(),
                                op: "funlock",
                                source: std::io::Error::from(e),
                            });
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------
// An open pool

/// One protein read from a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its index.
    pub index: i64,
    /// Deposit time, seconds since the Unix epoch.
    pub timestamp: f64,
    /// The protein's bytes (either byte order, as stored).
    pub protein: Vec<u8>,
}

/// What `pool info` reports (spec 6.10 plus positions).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Info {
    /// Pool name.
    pub name: String,
    /// "mmap".
    #[serde(rename = "type")]
    pub pool_type: &'static str,
    /// Always true for a local pool.
    pub terminal: bool,
    /// conf.file_size in bytes.
    pub size: u64,
    /// Bytes occupied by live entries.
    #[serde(rename = "size-used")]
    pub size_used: u64,
    /// Header size in bytes.
    #[serde(rename = "header-size")]
    pub header_size: u64,
    /// 1.
    #[serde(rename = "mmap-pool-version")]
    pub mmap_version: i64,
    /// 2.
    #[serde(rename = "slaw-version")]
    pub slaw_version: i64,
    /// TOC capacity.
    #[serde(rename = "toc-capacity")]
    pub toc_capacity: u64,
    /// TOC step.
    #[serde(rename = "toc-step")]
    pub toc_step: u64,
    /// TOC entries in use.
    #[serde(rename = "toc-count")]
    pub toc_count: u64,
    /// auto-dispose flag.
    #[serde(rename = "auto-dispose")]
    pub auto_dispose: bool,
    /// checksum flag.
    pub checksum: bool,
    /// flock flag.
    pub flock: bool,
    /// frozen flag.
    pub frozen: bool,
    /// stop-when-full flag.
    #[serde(rename = "stop-when-full")]
    pub stop_when_full: bool,
    /// sync flag.
    pub sync: bool,
    /// Oldest index, if any protein.
    #[serde(rename = "oldest-index")]
    pub oldest_index: Option<i64>,
    /// Newest index, if any protein.
    #[serde(rename = "newest-index")]
    pub newest_index: Option<i64>,
    /// conf.next_index.
    #[serde(rename = "next-index")]
    pub next_index: i64,
    /// System V semaphore key (unused for flock pools).
    #[serde(rename = "sem-key")]
    pub sem_key: i64,
    /// Permission bits, −1 if unspecified.
    pub mode: i64,
    /// Directory version: 5 or 6.
    #[serde(rename = "pool-version")]
    pub pool_version: i64,
}

/// An open pool (a "hose"): a mapping of the backing file, a read cursor and,
/// after the first deposit, the pool's locks. Not shared between threads: open
/// one per thread or task.
pub struct Pool {
    paths: PoolPaths,
    /// The pools directory the pool was opened in (for auto-dispose).
    pools_dir: PathBuf,
    /// The backing file, holding a shared `flock` for as long as the hose is
    /// open: libPlasma's marker of a hose (dispose/rename need an exclusive one).
    file: Flock<File>,
    writable: bool,
    /// The hose position (`pool_index`): what [`Pool::next`] reads next.
    pos: i64,
    map: Map,
    layout: Layout,
    locks: Option<Locks>,
    /// Last entry read or written: (virtual offset, index), a walk shortcut.
    cursor: Option<(u64, i64)>,
    pub(super) notify_cache: super::io::NotifyCache,
    pub(super) awaiter: Option<super::io::Awaiter>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.paths.name)
            .field("size", &self.map.len)
            .finish()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The awaiter FIFO goes first, as libPlasma's withdraw removes it first.
        self.awaiter = None;
        self.last_withdraw();
    }
}

struct Snapshot<'a>(&'a Pool);

impl Ring for Snapshot<'_> {
    fn entry_size(&self, at: u64) -> Option<u64> {
        self.0.entry_size_at(at)
    }
    fn entry_index(&self, at: u64) -> Option<i64> {
        self.0.index_at(at)
    }
}

/// How long a reader keeps retrying a lookup that races with writers (a resize
/// or a pool-sized deposit keeps the pool temporarily empty for a while).
const READ_PATIENCE: Duration = Duration::from_secs(10);

/// Retry pacing for lock-free reads: spin briefly, then yield, then sleep, and
/// give up after [`READ_PATIENCE`].
struct Backoff {
    n: u32,
    start: Option<Instant>,
}

impl Backoff {
    fn new() -> Self {
        Backoff { n: 0, start: None }
    }

    /// Waits a little; `false` once patience ran out.
    fn again(&mut self) -> bool {
        self.n = self.n.saturating_add(1);
        if self.n < 64 {
            std::hint::spin_loop();
            return true;
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        if start.elapsed() > READ_PATIENCE {
            return false;
        }
        if self.n < 256 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    }
}

impl Pool {
    fn open(paths: PoolPaths, pools_dir: &Path) -> Result<Pool> {
        let name = paths.name.clone();
        if let Some(conf) = &paths.conf {
            match fs::read(conf) {
                Ok(bytes) => {
                    let c = codec::parse_pool_conf(&bytes).map_err(|detail| Error::Config {
                        pool: name.clone(),
                        detail,
                    })?;
                    if c.version != 5 {
                        return Err(Error::WrongVersion {
                            pool: name,
                            detail: format!(
                                "pool directory version {} is not supported",
                                c.version
                            ),
                        });
                    }
                    if c.pool_type.as_deref().is_some_and(|t| t != "mmap") {
                        return Err(Error::Config {
                            pool: name,
                            detail: format!("pool type {:?} is not mmap", c.pool_type),
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&name, "read", conf, e)),
            }
        }
        let (file, writable) = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(&paths.backing)
        {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => (
                File::open(&paths.backing).map_err(|e| io_err(&name, "open", &paths.backing, e))?,
                false,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoSuchPool { pool: name })
            }
            Err(e) => return Err(io_err(&name, "open", &paths.backing, e)),
        };
        // A blocking shared lock: it waits only while another process holds the
        // exclusive one for a moment (dispose, rename, last-hose housekeeping).
        let mut file = file;
        let file = loop {
            match Flock::lock(file, FlockArg::LockShared) {
                Ok(g) => break g,
                Err((back, nix::errno::Errno::EINTR)) => file = back,
                Err((_, e)) => {
                    return Err(io_err(
                        &name,
                        "flock",
                        &paths.backing,
                        std::io::Error::from(e),
                    ))
                }
            }
        };
        // Disposed while we waited for the lock: the file we hold is unlinked.
        if !paths.backing.exists() {
            return Err(Error::NoSuchPool { pool: name });
        }
        let (layout, big) = read_layout_ext(&name, &file)?;
        let map = Map::new(&file, layout.file_size, writable, big)
            .map_err(|e| io_err(&name, "mmap", &paths.backing, e))?;
        Ok(Pool {
            paths,
            pools_dir: pools_dir.to_path_buf(),
            file,
            writable,
            pos: 0,
            map,
            layout,
            locks: None,
            cursor: None,
            notify_cache: Default::default(),
            awaiter: None,
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.paths.name
    }

    /// The pool's paths.
    pub fn paths(&self) -> &PoolPaths {
        &self.paths
    }

    /// Whether this process may deposit (the backing file opened read-write).
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            pool: self.paths.name.clone(),
            detail: detail.into(),
        }
    }

    /// Re-maps when another process resized the pool (spec 6.9 step 6).
    fn refresh(&mut self) -> Result<()> {
        let fs_now = self
            .map
            .load(self.layout.file_size_off())
            .ok_or_else(|| self.corrupt("header outside mapping"))?;
        if fs_now == self.map.len {
            return Ok(());
        }
        let layout = read_layout_from(&self.paths.name, &self.file)?;
        if layout.header_size != self.layout.header_size {
            return Err(self.corrupt("header size changed under us"));
        }
        self.map = Map::new(&self.file, layout.file_size, self.writable, self.map.swap)
            .map_err(|e| io_err(&self.paths.name, "re-mmap", &self.paths.backing, e))?;
        self.layout = layout;
        self.cursor = None;
        Ok(())
    }

    fn fs(&self) -> u64 {
        self.map.len
    }

    fn hs(&self) -> u64 {
        self.layout.header_size
    }

    fn ptrs(&self) -> (u64, u64) {
        let newest = self.map.load(self.layout.newest_off()).unwrap_or(0);
        let oldest = self.map.load(self.layout.oldest_off()).unwrap_or(0);
        (oldest, newest)
    }

    fn flags(&self) -> u64 {
        self.map
            .load(self.layout.flags_off())
            .unwrap_or(self.layout.flags)
    }

    fn phys(&self, at: u64, n: u64) -> Option<u64> {
        let p = at % self.fs();
        (p >= self.hs() && p + n <= self.fs()).then_some(p)
    }

    fn index_at(&self, at: u64) -> Option<i64> {
        let p = self.phys(at, 24)?;
        let v = self.map.load(p + codec::ENTRY_INDEX)? as i64;
        (0..=codec::MAX_REASONABLE_INDEX).contains(&v).then_some(v)
    }

    fn entry_size_at(&self, at: u64) -> Option<u64> {
        let poff = self.layout.protein_off();
        let p = self.phys(at, poff + 8)?;
        let w = self.map.load_raw(p + poff)?;
        let head = codec::protein_head(w.to_le_bytes())?;
        let size = codec::entry_size(head.len_bytes, poff == 24);
        (size <= self.fs() - self.hs() && p + size <= self.fs()).then_some(size)
    }

    fn stompled(&self, at: u64) -> bool {
        let (oldest, newest) = self.ptrs();
        newest < oldest
            || at < oldest
            || at > newest
            || self.map.load(self.layout.file_size_off()) != Some(self.fs())
    }

    /// Oldest and newest index, `None` when the pool is empty.
    pub fn index_range(&mut self) -> Result<Option<(i64, i64)>> {
        let mut backoff = Backoff::new();
        while backoff.again() {
            self.refresh()?;
            let (oldest, newest) = self.ptrs();
            if newest == 0 {
                return Ok(None);
            }
            if newest < oldest {
                continue;
            }
            let (Some(o), Some(n)) = (self.index_at(oldest), self.index_at(newest)) else {
                if self.stompled(oldest) {
                    continue;
                }
                return Err(self.corrupt("entry index unreadable"));
            };
            if self.stompled(oldest) {
                continue;
            }
            if o > n {
                return Err(self.corrupt(format!("oldest index {o} > newest index {n}")));
            }
            return Ok(Some((o, n)));
        }
        Err(self.corrupt("pointers never settled"))
    }

    /// The newest index, `None` when empty.
    pub fn newest_index(&mut self) -> Result<Option<i64>> {
        Ok(self.index_range()?.map(|r| r.1))
    }

    /// The oldest index, `None` when empty.
    pub fn oldest_index(&mut self) -> Result<Option<i64>> {
        Ok(self.index_range()?.map(|r| r.0))
    }

    /// The index the next deposit will get.
    pub fn next_index(&mut self) -> Result<i64> {
        Ok(match self.newest_index()? {
            Some(n) => n + 1,
            None => self.map.load(self.layout.next_index_off()).unwrap_or(0) as i64,
        })
    }

    fn toc(&self) -> Option<TocWords<'_>> {
        let base = self.layout.toc?;
        Some(TocWords {
            map: &self.map,
            base,
            words: (codec::TOC_FIXED_BYTES / 8)
                + 2 * codec::normalize_toc_capacity(self.layout.toc_capacity),
        })
    }

    /// Finds the entry of `idx` (one attempt). `Ok(None)` = raced, retry.
    fn locate(&self, idx: i64, oldest: u64, newest: u64) -> Result<Option<u64>> {
        // Sequential readers (tails) ask for the cursor's entry or the next one:
        // one step from the cursor, no index or TOC lookups. The caller still
        // validates the copy against the pointers.
        if let Some((off, ci)) = self.cursor {
            if off >= oldest && off <= newest {
                if ci == idx && self.index_at(off) == Some(idx) {
                    return Ok(Some(off));
                }
                if ci + 1 == idx && off < newest {
                    if let Some(size) = self.entry_size_at(off) {
                        let next = protocol::next_entry(
                            &Snapshot(self),
                            off,
                            ci,
                            size,
                            newest,
                            self.fs(),
                            self.hs(),
                        );
                        if let Some(next) = next.filter(|&n| self.index_at(n) == Some(idx)) {
                            return Ok(Some(next));
                        }
                    }
                }
            }
        }
        let Some(newest_idx) = self.index_at(newest) else {
            return Ok(None);
        };
        if idx == newest_idx {
            return Ok(Some(newest));
        }
        let Some(oldest_idx) = self.index_at(oldest) else {
            return Ok(None);
        };
        if self.stompled(oldest) {
            return Ok(None);
        }
        if idx > newest_idx || idx < oldest_idx {
            return Err(Error::NoSuchProtein {
                pool: self.paths.name.clone(),
                index: idx,
            });
        }
        let mut start = (oldest, oldest_idx);
        if let Some((off, ci)) = self.cursor {
            if ci <= idx
                && ci > start.1
                && off >= oldest
                && off <= newest
                && self.index_at(off) == Some(ci)
            {
                start = (off, ci);
            }
        }
        if let Some(t) = self.toc().and_then(|w| protocol::toc_lookup(&w, idx)) {
            if t.index > start.1
                && t.offset >= oldest
                && t.offset <= newest
                && self.index_at(t.offset) == Some(t.index)
            {
                start = (t.offset, t.index);
            }
        }
        // Within the newest lap, walking back by jumpback can be shorter.
        if newest_idx - idx < idx - start.1 {
            let mut at = newest;
            let mut i = newest_idx;
            while i > idx && at % self.fs() > self.hs() && at >= oldest {
                let Some(jb) = self.map.load(at % self.fs() - 8) else {
                    break;
                };
                if jb < 24 || jb > at % self.fs() - self.hs() {
                    break;
                }
                at -= jb;
                if self.index_at(at) != Some(i - 1) {
                    break;
                }
                i -= 1;
            }
            if i == idx {
                return Ok(Some(at));
            }
        }
        let (mut at, mut i) = start;
        while i < idx {
            let Some(size) = self.entry_size_at(at) else {
                return Ok(None);
            };
            let Some(next) =
                protocol::next_entry(&Snapshot(self), at, i, size, newest, self.fs(), self.hs())
            else {
                return Ok(None);
            };
            if self.index_at(next) != Some(i + 1) {
                return Ok(None);
            }
            at = next;
            i += 1;
        }
        Ok(Some(at))
    }

    /// Reads the protein with index `idx` (`pool_nth_protein`), lock-free.
    pub fn nth(&mut self, idx: i64) -> Result<Entry> {
        let mut protein = Vec::new();
        let timestamp = self.nth_into(idx, &mut protein)?;
        Ok(Entry {
            index: idx,
            timestamp,
            protein,
        })
    }

    /// Like [`nth`](Self::nth), but copies the protein into `out` (replacing
    /// its contents) and returns the timestamp: a reader that reuses one buffer
    /// allocates nothing per protein.
    pub fn nth_into(&mut self, idx: i64, out: &mut Vec<u8>) -> Result<f64> {
        let no_such = |p: &Pool| Error::NoSuchProtein {
            pool: p.paths.name.clone(),
            index: idx,
        };
        let mut backoff = Backoff::new();
        let mut stable_failures = 0u32;
        while backoff.again() {
            self.refresh()?;
            let (oldest, newest) = self.ptrs();
            if newest == 0 {
                return Err(no_such(self));
            }
            if newest < oldest {
                continue;
            }
            // A failure with unchanged pointers is not a race but an inconsistent pool.
            let stable = |p: &Pool, n: &mut u32| {
                if p.ptrs() == (oldest, newest) && !p.stompled(newest) {
                    *n += 1;
                }
                *n >= 3
            };
            let Some(at) = self.locate(idx, oldest, newest)? else {
                if stable(self, &mut stable_failures) {
                    break;
                }
                continue;
            };
            let Some(size) = self.entry_size_at(at) else {
                if self.stompled(at) {
                    continue;
                }
                return Err(self.corrupt(format!("entry at {at} has no protein header")));
            };
            let p = at % self.fs();
            let poff = self.layout.protein_off();
            let plen = size - poff - codec::JUMPBACK_BYTES;
            let ts = self.map.load(p).map(f64::from_bits);
            let got = self.map.load(p + codec::ENTRY_INDEX).map(|v| v as i64);
            let stored_sum = (poff == 24).then(|| self.map.load(p + 16));
            if !self.map.copy_to_vec(p + poff, plen, out) {
                if stable(self, &mut stable_failures) {
                    break;
                }
                continue;
            }
            if self.stompled(at) {
                // Overwritten while copying: gone for good if it fell behind oldest.
                if let Ok(Some((o, _))) = self.index_range() {
                    if idx < o {
                        return Err(no_such(self));
                    }
                }
                continue;
            }
            if got != Some(idx) {
                if stable(self, &mut stable_failures) {
                    break;
                }
                continue;
            }
            let ts = ts.unwrap_or(0.0);
            if let Some(stored) = stored_sum {
                // Copied and re-checked above, so a mismatch is damage, not a race
                // (libPlasma answers POOL_CORRUPT too).
                let sum = super::checksum::entry_checksum(out, ts, idx);
                if stored != Some(sum) {
                    return Err(self.corrupt(format!(
                        "checksum mismatch at index {idx}: stored {:016x}, computed {sum:016x}",
                        stored.unwrap_or(0)
                    )));
                }
            }
            self.cursor = Some((at, idx));
            return Ok(ts);
        }
        Err(self.corrupt(format!("could not read index {idx} consistently")))
    }

    /// The first protein at or after (`forward`) or at or before `from` whose
    /// descrips contain every string of `descrips` (`pool_probe_frwd` /
    /// `pool_probe_back`, matching string descrips only). Overwritten indices
    /// are skipped; POOL_NO_SUCH_PROTEIN when nothing matches.
    pub fn probe(&mut self, from: i64, descrips: &[String], forward: bool) -> Result<Entry> {
        let none = |p: &Pool| Error::NoSuchProtein {
            pool: p.paths.name.clone(),
            index: from,
        };
        let Some((o, n)) = self.index_range()? else {
            return Err(none(self));
        };
        let mut i = from.clamp(o, n);
        if (forward && from > n) || (!forward && from < o) {
            return Err(none(self));
        }
        loop {
            match self.nth(i) {
                Ok(e) => {
                    let hit = codec::descrip_strings(&e.protein)
                        .is_some_and(|d| descrips.iter().all(|want| d.contains(want)));
                    if hit {
                        return Ok(e);
                    }
                }
                Err(Error::NoSuchProtein { .. }) if !forward => return Err(none(self)),
                Err(Error::NoSuchProtein { .. }) => {
                    // overwritten under us: jump to the new oldest
                    match self.index_range()? {
                        Some((o2, _)) if o2 > i => {
                            i = o2;
                            continue;
                        }
                        _ => return Err(none(self)),
                    }
                }
                Err(e) => return Err(e),
            }
            if forward {
                if i >= n {
                    return Err(none(self));
                }
                i += 1;
            } else {
                if i <= o {
                    return Err(none(self));
                }
                i -= 1;
            }
        }
    }

    /// Index of the protein deposited closest to `t` (`pool_seekto_time`):
    /// `Closest`, at-or-below or at-or-above.
    pub fn seek_time(&mut self, t: f64, mode: TimeMatch) -> Result<Option<i64>> {
        let Some((o, n)) = self.index_range()? else {
            return Ok(None);
        };
        let start = self
            .toc()
            .and_then(|w| protocol::toc_lookup_time(&w, t))
            .map(|e| e.index.max(o))
            .unwrap_or(o);
        let mut best: Option<(i64, f64)> = None;
        let mut below: Option<i64> = None;
        let mut above: Option<i64> = None;
        for i in start..=n {
            let e = match self.nth(i) {
                Ok(e) => e,
                Err(Error::NoSuchProtein { .. }) => continue,
                Err(e) => return Err(e),
            };
            let d = (e.timestamp - t).abs();
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((i, d));
            }
            if e.timestamp <= t {
                below = Some(i);
            } else if above.is_none() {
                above = Some(i);
                if mode != TimeMatch::AtOrBelow {
                    break;
                }
            }
        }
        Ok(match mode {
            TimeMatch::Closest => best.map(|b| b.0),
            TimeMatch::AtOrBelow => below,
            TimeMatch::AtOrAbove => above,
        })
    }

    /// The first protein at or after (`forward`) or at or before `from` whose
    /// descrips match `needle` as libPlasma's `protein_search` decides
    /// ([`protocol::protein_search`]: a list needle is a gap search, anything
    /// else must equal one descrip). Overwritten indices are skipped;
    /// POOL_NO_SUCH_PROTEIN when nothing matches. The hose position is not used.
    pub fn probe_slaw(&mut self, from: i64, needle: &Slaw, forward: bool) -> Result<Entry> {
        let none = |p: &Pool| Error::NoSuchProtein {
            pool: p.paths.name.clone(),
            index: from,
        };
        let Some((o, n)) = self.index_range()? else {
            return Err(none(self));
        };
        if (forward && from > n) || (!forward && from < o) {
            return Err(none(self));
        }
        let mut i = from.clamp(o, n);
        loop {
            match self.nth(i) {
                Ok(e) => {
                    if protocol::protein_search(&e.protein, needle).is_some() {
                        return Ok(e);
                    }
                }
                Err(Error::NoSuchProtein { .. }) => match self.index_range()? {
                    // overwritten under us: forward jumps to the new oldest
                    Some((o2, _)) if forward && o2 > i => {
                        i = o2;
                        continue;
                    }
                    _ => return Err(none(self)),
                },
                Err(e) => return Err(e),
            }
            if forward {
                if i >= n {
                    return Err(none(self));
                }
                i += 1;
            } else {
                if i <= o {
                    return Err(none(self));
                }
                i -= 1;
            }
        }
    }

    // -- The hose position (libPlasma's pool_index, pool_seekto, pool_next, …) --
    //
    // A fresh hose is at index 0; reads from a position already overwritten move
    // up to the oldest protein, as libPlasma's pool_next does.

    /// The hose position: the index [`next`](Self::next) reads (`pool_index`).
    pub fn index(&self) -> i64 {
        self.pos
    }

    /// Moves the hose to `idx` (`pool_seekto`); any value is accepted.
    pub fn seekto(&mut self, idx: i64) {
        self.pos = idx;
    }

    /// Moves the hose by `delta` (`pool_seekby`; `pool_frwdby`/`pool_backby`).
    pub fn seekby(&mut self, delta: i64) {
        self.pos = self.pos.saturating_add(delta);
    }

    /// Moves the hose to the oldest protein (`pool_rewind`); an empty pool
    /// leaves it where it is.
    pub fn rewind(&mut self) -> Result<()> {
        if let Some((o, _)) = self.index_range()? {
            self.pos = o;
        }
        Ok(())
    }

    /// Moves the hose to the newest protein (`pool_tolast`); an empty pool
    /// leaves it where it is.
    pub fn tolast(&mut self) -> Result<()> {
        if let Some((_, n)) = self.index_range()? {
            self.pos = n;
        }
        Ok(())
    }

    /// Moves the hose past the newest protein, so [`next`](Self::next) waits
    /// for new deposits (`pool_runout`). On an empty pool libPlasma computes
    /// "newest + 1" from an unset index; tidepool uses the index the next deposit
    /// will get, which is what a reader wants.
    pub fn runout(&mut self) -> Result<()> {
        self.pos = self.next_index()?;
        Ok(())
    }

    /// The protein at the hose position, without moving (`pool_curr`).
    pub fn curr(&mut self) -> Result<Entry> {
        self.nth(self.pos)
    }

    /// The protein at the hose position, then moves past it (`pool_next`). A
    /// negative position reads from 0; a position already overwritten reads the
    /// oldest protein instead. POOL_NO_SUCH_PROTEIN (position unchanged) when
    /// there is nothing at or after the position yet.
    #[allow(clippy::should_implement_trait)] // libPlasma's name; fallible, not an iterator
    pub fn next(&mut self) -> Result<Entry> {
        let mut want = self.pos.max(0);
        loop {
            match self.nth(want) {
                Ok(e) => {
                    self.pos = e.index + 1;
                    return Ok(e);
                }
                Err(Error::NoSuchProtein { .. }) => match self.index_range()? {
                    Some((o, _)) if o > want => want = o,
                    _ => {
                        return Err(Error::NoSuchProtein {
                            pool: self.paths.name.clone(),
                            index: want,
                        })
                    }
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// The protein before the hose position, and moves the hose onto it
    /// (`pool_prev`): right after `next` returned index i the position is
    /// i + 1, so `prev` returns i again. A position past the newest protein
    /// first drops to newest + 1. Fails with
    /// POOL_NO_SUCH_PROTEIN at or below position 0 or when the previous protein
    /// was overwritten (the position has then moved onto it, as in libPlasma).
    pub fn prev(&mut self) -> Result<Entry> {
        let none = |p: &Pool, index| Error::NoSuchProtein {
            pool: p.paths.name.clone(),
            index,
        };
        if self.pos <= 0 {
            return Err(none(self, self.pos - 1));
        }
        let Some((_, n)) = self.index_range()? else {
            return Err(none(self, self.pos - 1));
        };
        let start = self.pos.min(n + 1);
        self.pos = start - 1;
        self.nth(self.pos)
    }

    /// Like [`probe_slaw`](Self::probe_slaw) forward from the hose position,
    /// moving the hose past the match (`pool_probe_frwd`); on failure the
    /// position is restored.
    pub fn probe_frwd(&mut self, needle: &Slaw) -> Result<Entry> {
        let saved = self.pos;
        loop {
            match self.next() {
                Ok(e) if protocol::protein_search(&e.protein, needle).is_some() => return Ok(e),
                Ok(_) => {}
                Err(e) => {
                    self.pos = saved;
                    return Err(e);
                }
            }
        }
    }

    /// Steps back from the hose position to the first match, leaving the hose
    /// on it (`pool_probe_back`); on failure the position is restored.
    pub fn probe_back(&mut self, needle: &Slaw) -> Result<Entry> {
        let saved = self.pos;
        loop {
            match self.prev() {
                Ok(e) if protocol::protein_search(&e.protein, needle).is_some() => return Ok(e),
                Ok(_) => {}
                Err(e) => {
                    self.pos = saved;
                    return Err(e);
                }
            }
        }
    }

    /// Moves the hose to the protein deposited closest to `t` by `mode`
    /// (`pool_seekto_time`); POOL_NO_SUCH_PROTEIN when none qualifies.
    pub fn seekto_time(&mut self, t: f64, mode: TimeMatch) -> Result<()> {
        match self.seek_time(t, mode)? {
            Some(i) => {
                self.pos = i;
                Ok(())
            }
            None => Err(Error::NoSuchProtein {
                pool: self.paths.name.clone(),
                index: self.pos,
            }),
        }
    }

    /// libPlasma's last-withdraw housekeeping: when no other hose has the pool
    /// open (the shared lock upgrades to an exclusive one), truncate the file
    /// to the effective size a shrinking resize left, and dispose the pool when
    /// its auto-dispose flag is set. Best effort: runs from `Drop`.
    fn last_withdraw(&mut self) {
        if !self.writable || self.file.relock(FlockArg::LockExclusiveNonblock).is_err() {
            return;
        }
        let Some(fs) = self.map.load(self.layout.file_size_off()) else {
            return;
        };
        let flags = self.flags();
        if let Ok(real) = self.file.metadata().map(|m| m.len()) {
            if real > fs && fs >= self.hs() && fs == self.map.len {
                if let Err(e) = self.file.set_len(fs) {
                    tracing::warn!(pool = %self.paths.name, error = %e, "truncating after shrink failed");
                }
            }
        }
        // Only the pool this hose belongs to: after an unconditional dispose or
        // rename, the name may now be another pool (or none).
        let same_file = match (self.file.metadata(), fs::metadata(&self.paths.backing)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.dev() == b.dev() && a.ino() == b.ino()
            }
            _ => false,
        };
        if flags & codec::FLAG_AUTO_DISPOSE != 0 && same_file {
            // We hold the exclusive lock, so nobody else has the pool open.
            let pools = Pools::new(self.pools_dir.clone());
            if let Err(e) = pools.dispose_paths(&self.paths.name, &self.paths) {
                tracing::warn!(pool = %self.paths.name, error = %e, "auto-dispose failed");
            }
        }
    }

    fn lock(&mut self, which: LockKind) -> Result<()> {
        if self.locks.is_none() {
            self.locks = Some(Locks::open(&self.paths, &self.layout)?);
        }
        match self.locks.as_mut() {
            Some(l) => l.lock(&self.paths.name, which),
            None => Ok(()),
        }
    }

    fn unlock(&mut self, which: LockKind) -> Result<()> {
        match self.locks.as_mut() {
            Some(l) => l.unlock(&self.paths.name, which),
            None => Ok(()),
        }
    }

    /// Runs `f` holding the pool's notification lock.
    pub(super) fn with_notify_lock<R>(&mut self, f: impl FnOnce(&mut Pool) -> R) -> Result<R> {
        self.lock(LockKind::Notify)?;
        let r = f(self);
        self.unlock(LockKind::Notify)?;
        Ok(r)
    }

    fn check_deposit(&self, protein: &[u8]) -> Result<u64> {
        if !self.writable {
            return Err(io_err(
                &self.paths.name,
                "deposit",
                &self.paths.backing,
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ));
        }
        self.refuse_big_endian("depositing into")?;
        let flags = self.flags();
        if flags & codec::FLAG_FROZEN != 0 {
            return Err(Error::Frozen {
                pool: self.paths.name.clone(),
            });
        }
        let head = codec::check_protein(protein).map_err(|detail| Error::NotAProtein {
            pool: self.paths.name.clone(),
            detail,
        })?;
        Ok(codec::entry_size(head.len_bytes, self.is_checksum()))
    }

    /// Pools from a big-endian machine are read, never written: tidepool's
    /// writers produce little-endian words only.
    fn refuse_big_endian(&self, what: &str) -> Result<()> {
        if self.map.swap {
            return Err(Error::WrongVersion {
                pool: self.paths.name.clone(),
                detail: format!(
                    "{what} a big-endian pool (created on a big-endian machine) is not supported; it is read-only here"
                ),
            });
        }
        Ok(())
    }

    /// Whether the pool's words are byte-swapped (it was created on a
    /// big-endian machine); such pools are read-only.
    pub fn is_big_endian(&self) -> bool {
        self.map.swap
    }

    /// Whether entries carry a checksum word (fixed at creation).
    fn is_checksum(&self) -> bool {
        self.layout.protein_off() == codec::protein_offset(true)
    }

    /// Writes one entry (timestamp, index, checksum if the pool has them,
    /// protein, jumpback) at physical offset `p`; `false` if outside the map.
    fn write_entry(&self, p: u64, size: u64, ts: f64, idx: i64, protein: &[u8]) -> bool {
        let mut head = [0u8; 24];
        head[0..8].copy_from_slice(&ts.to_bits().to_le_bytes());
        head[8..16].copy_from_slice(&(idx as u64).to_le_bytes());
        let poff = self.layout.protein_off();
        if poff == 24 {
            let sum = super::checksum::entry_checksum(protein, ts, idx);
            head[16..24].copy_from_slice(&sum.to_le_bytes());
        }
        self.map.copy_in(p, &head[..poff as usize])
            && self.map.copy_in(p + poff, protein)
            && self.map.store(p + size - 8, size)
    }

    /// Deposits one protein (`pool_deposit`): returns its index and timestamp.
    /// `now` is the deposit time in seconds since the epoch.
    pub fn deposit(&mut self, protein: &[u8], now: f64) -> Result<(i64, f64)> {
        let idx = self.deposit_batch(&[protein], now)?;
        Ok((idx, now))
    }

    /// Deposits several proteins under one acquisition of the deposit lock and
    /// one wake-up; returns the first index (the rest follow consecutively).
    /// Other lockers (libPlasma included) wait for the whole batch.
    pub fn deposit_batch(&mut self, proteins: &[&[u8]], now: f64) -> Result<i64> {
        for p in proteins {
            self.check_deposit(p)?;
        }
        self.lock(LockKind::Deposit)?;
        let r = (|| {
            self.refresh()?;
            let mut first = None;
            for p in proteins {
                // checked above: the header is a protein of exactly p.len() bytes
                let size = codec::entry_size(p.len() as u64, self.is_checksum());
                let i = self.deposit_locked(p, size, now)?;
                first.get_or_insert(i);
            }
            Ok(first.unwrap_or(-1))
        })();
        let u = self.unlock(LockKind::Deposit);
        let first = r?;
        u?;
        super::io::wake_awaiters(self)?;
        Ok(first)
    }

    fn deposit_locked(&mut self, protein: &[u8], size: u64, now: f64) -> Result<i64> {
        let name = &self.paths.name;
        let flags = self.flags();
        if flags & codec::FLAG_FROZEN != 0 {
            return Err(Error::Frozen { pool: name.clone() });
        }
        let (oldest, newest) = self.ptrs();
        let idx = if newest == 0 {
            self.map.load(self.layout.next_index_off()).unwrap_or(0) as i64
        } else {
            self.index_at(newest)
                .ok_or_else(|| self.corrupt("newest entry has no index"))?
                + 1
        };
        let ptrs = Ptrs {
            oldest,
            newest,
            file_size: self.fs(),
            header_size: self.hs(),
        };
        let plan = protocol::plan_write(&Snapshot(self), ptrs, size).map_err(|e| match e {
            PlanError::TooBig => Error::TooBig {
                pool: name.clone(),
                entry_bytes: size,
                room_bytes: self.fs() - self.hs(),
            },
            PlanError::Corrupt(d) => self.corrupt(d),
        })?;
        if newest != 0 && plan.new_oldest != oldest && flags & codec::FLAG_STOP_WHEN_FULL != 0 {
            return Err(Error::Full { pool: name.clone() });
        }
        // oldest moves before any byte is overwritten so readers detect the overlap.
        if plan.new_oldest != oldest {
            self.map.store(self.layout.oldest_off(), plan.new_oldest);
        }
        let p = plan.write % self.fs();
        if !self.write_entry(p, size, now, idx, protein) {
            return Err(self.corrupt("entry outside the mapping"));
        }
        if flags & codec::FLAG_SYNC != 0 {
            self.map
                .flush(p, size)
                .map_err(|e| io_err(name, "msync", &self.paths.backing, e))?;
        }
        self.map.store(self.layout.newest_off(), plan.write);
        let (cur_oldest, _) = self.ptrs();
        if let Some(mut w) = self.toc() {
            protocol::toc_append(
                &mut w,
                TocEntry {
                    index: idx,
                    offset: plan.write,
                    timestamp: now,
                },
                cur_oldest,
            );
        }
        self.map
            .store(self.layout.next_index_off(), (idx + 1) as u64);
        if flags & codec::FLAG_SYNC != 0 {
            let _ = self.map.flush(0, self.hs());
        }
        self.cursor = Some((plan.write, idx));
        Ok(idx)
    }

    /// Erases every protein older than `idx` (`pool_advance_oldest`): `idx`
    /// becomes the oldest index; `newest + 1` empties the pool (the next
    /// deposit still gets `newest + 1`). `Ok(true)` when the pool changed,
    /// `Ok(false)` when there was nothing to do (`idx` is already gone or is
    /// the oldest: libPlasma's OB_NOTHING_TO_DO); POOL_NO_SUCH_PROTEIN when `idx`
    /// is newer than that. Holds the deposit lock like a deposit.
    pub fn advance_oldest(&mut self, idx: i64) -> Result<bool> {
        if !self.writable {
            return Err(io_err(
                &self.paths.name,
                "advance oldest",
                &self.paths.backing,
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ));
        }
        self.lock(LockKind::Deposit)?;
        let r = self.advance_locked(idx);
        let u = self.unlock(LockKind::Deposit);
        let changed = r?;
        u?;
        Ok(changed)
    }

    fn advance_locked(&mut self, idx: i64) -> Result<bool> {
        self.refresh()?;
        let no_such = |p: &Pool| Error::NoSuchProtein {
            pool: p.paths.name.clone(),
            index: idx,
        };
        // libPlasma compares against newest index -1 for an empty pool: index 0
        // "empties" it again (OB_OK), anything newer is POOL_NO_SUCH_PROTEIN.
        let Some((oldest_idx, newest_idx)) = self.index_range()? else {
            return match idx {
                0 => Ok(true),
                i if i > 0 => Err(no_such(self)),
                _ => Ok(false),
            };
        };
        let (oldest, newest) = self.ptrs();
        if idx == newest_idx + 1 {
            // Empty: oldest moves to the start of the lap after the newest
            // entry (libPlasma's remodulate), where the next deposit goes.
            let (fs, hs) = (self.fs(), self.hs());
            let lap_start = newest - newest % fs + hs;
            let next_lap = if lap_start > newest {
                lap_start
            } else {
                lap_start + fs
            };
            self.map.store(self.layout.oldest_off(), next_lap);
            self.map.store(self.layout.newest_off(), 0);
            self.map
                .store(self.layout.next_index_off(), (newest_idx + 1) as u64);
            self.cursor = None;
            return Ok(true);
        }
        if idx > newest_idx {
            return Err(no_such(self));
        }
        if idx <= oldest_idx {
            return Ok(false);
        }
        // Writers are locked out: the walk cannot race a deposit.
        let at = match self.locate(idx, oldest, newest)? {
            Some(at) if self.index_at(at) == Some(idx) => at,
            _ => return Err(self.corrupt(format!("index {idx} not found under the lock"))),
        };
        if at <= oldest {
            return Ok(false);
        }
        self.map.store(self.layout.oldest_off(), at);
        Ok(true)
    }

    /// Pool statistics and flags (`pool_get_info`).
    pub fn info(&mut self) -> Result<Info> {
        self.refresh()?;
        let range = self.index_range()?;
        let (oldest, newest) = self.ptrs();
        let size_used = if newest == 0 || newest < oldest {
            0
        } else {
            let end = newest + self.entry_size_at(newest).unwrap_or(0);
            (end - oldest).min(self.fs() - self.hs())
        };
        let (toc_step, toc_count) = self
            .toc()
            .and_then(|w| protocol::toc_state(&w))
            .map(|s| (s.step, s.count))
            .unwrap_or((0, 0));
        let flags = self.flags();
        Ok(Info {
            name: self.paths.name.clone(),
            pool_type: "mmap",
            terminal: true,
            size: self.fs(),
            size_used,
            header_size: self.hs(),
            mmap_version: codec::MMAP_VERSION,
            slaw_version: 2,
            toc_capacity: self.layout.toc_capacity,
            toc_step,
            toc_count,
            auto_dispose: flags & codec::FLAG_AUTO_DISPOSE != 0,
            checksum: flags & codec::FLAG_CHECKSUM != 0,
            flock: flags & codec::FLAG_FLOCK != 0,
            frozen: flags & codec::FLAG_FROZEN != 0,
            stop_when_full: flags & codec::FLAG_STOP_WHEN_FULL != 0,
            sync: flags & codec::FLAG_SYNC != 0,
            oldest_index: range.map(|r| r.0),
            newest_index: range.map(|r| r.1),
            next_index: self.map.load(self.layout.next_index_off()).unwrap_or(0) as i64,
            sem_key: self.layout.sem_key,
            mode: self.layout.perm.map(|p| p.mode).unwrap_or(-1),
            pool_version: if self.paths.conf.is_some() { 5 } else { 6 },
        })
    }

    /// Changes options (`pool_change_options`); `size` resizes.
    pub fn change_options(&mut self, change: &ChangeOptions) -> Result<()> {
        if !self.writable {
            return Err(io_err(
                &self.paths.name,
                "change options",
                &self.paths.backing,
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ));
        }
        self.refuse_big_endian("changing options of")?;
        self.lock(LockKind::Deposit)?;
        let r = self.change_locked(change);
        let u = self.unlock(LockKind::Deposit);
        r?;
        u
    }

    fn change_locked(&mut self, change: &ChangeOptions) -> Result<()> {
        self.refresh()?;
        let mut flags = self.flags();
        for (opt, bit) in [
            (change.stop_when_full, codec::FLAG_STOP_WHEN_FULL),
            (change.frozen, codec::FLAG_FROZEN),
            (change.auto_dispose, codec::FLAG_AUTO_DISPOSE),
            (change.sync, codec::FLAG_SYNC),
        ] {
            match opt {
                Some(true) => flags |= bit,
                Some(false) => flags &= !bit,
                None => {}
            }
        }
        self.map.store(self.layout.flags_off(), flags);
        if let Some(size) = change.size {
            self.resize_locked(size)?;
        }
        Ok(())
    }

    /// Resizes the pool (`p-resize`): grows the file or shrinks the effective
    /// size, keeping the newest proteins that fit and their indices.
    pub fn resize(&mut self, size: u64) -> Result<()> {
        self.change_options(&ChangeOptions {
            size: Some(size),
            ..Default::default()
        })
    }

    fn resize_locked(&mut self, size: u64) -> Result<()> {
        let name = self.paths.name.clone();
        let new_size = checked_size(&name, size, self.hs())?;
        if new_size == self.fs() {
            return Ok(());
        }
        // Copy the live entries out (we hold the deposit lock: they are stable).
        let mut live: Vec<(f64, i64, Vec<u8>)> = Vec::new();
        if let Some((o, n)) = self.index_range()? {
            for i in o..=n {
                let e = self.nth(i)?;
                live.push((e.timestamp, e.index, e.protein));
            }
        }
        let room = new_size - self.hs();
        let mut total = 0;
        let mut keep = live.len();
        // Keep the newest entries that fit; an entry may not end at the file end.
        let checksum = self.is_checksum();
        while keep > 0 {
            let sz = codec::entry_size(live[keep - 1].2.len() as u64, checksum);
            if total + sz >= room {
                break;
            }
            total += sz;
            keep -= 1;
        }
        let kept = &live[keep..];
        let (_, old_newest) = self.ptrs();
        let base = protocol::remodulate(old_newest.max(self.ptrs().0), self.hs(), new_size);
        // Temporarily empty (newest < oldest): readers spin until it clears.
        self.map.store(self.layout.oldest_off(), base);
        if new_size > self.fs() {
            self.file
                .set_len(new_size)
                .map_err(|e| io_err(&name, "grow backing file", &self.paths.backing, e))?;
            self.map = Map::new(&self.file, new_size, true, false)
                .map_err(|e| io_err(&name, "re-mmap", &self.paths.backing, e))?;
        }
        // Write the kept entries from the header on, then publish the new size.
        let mut at = self.hs();
        let mut newest_virtual = 0;
        for (ts, idx, protein) in kept {
            let sz = codec::entry_size(protein.len() as u64, checksum);
            if !self.write_entry(at, sz, *ts, *idx, protein) {
                return Err(self.corrupt("resize wrote outside the mapping"));
            }
            newest_virtual = base + (at - self.hs());
            at += sz;
        }
        self.map.store(self.layout.file_size_off(), new_size);
        if new_size < self.map.len {
            self.map = Map::new(&self.file, new_size, true, false)
                .map_err(|e| io_err(&name, "re-mmap", &self.paths.backing, e))?;
        }
        self.layout.file_size = new_size;
        if let Some(mut w) = self.toc() {
            protocol::toc_reset(&mut w);
        }
        let mut v = base;
        for (ts, idx, protein) in kept {
            if let Some(mut w) = self.toc() {
                protocol::toc_append(
                    &mut w,
                    TocEntry {
                        index: *idx,
                        offset: v,
                        timestamp: *ts,
                    },
                    base,
                );
            }
            v += codec::entry_size(protein.len() as u64, checksum);
        }
        if kept.is_empty() {
            self.map.store(self.layout.newest_off(), 0);
        } else {
            self.map.store(self.layout.newest_off(), newest_virtual);
        }
        self.cursor = None;
        Ok(())
    }
}

/// How `seek_time` matches a timestamp (`pool_seekto_time` modes 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMatch {
    /// Nearest timestamp.
    Closest,
    /// Latest at or before.
    AtOrBelow,
    /// Earliest at or after.
    AtOrAbove,
}

/// Seconds since the Unix epoch now: the timestamp deposits use by default.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protein(n_bytes_payload: usize, tag: u8) -> Vec<u8> {
        // ingests-free protein with wee/very rude data: easiest valid shape
        let rude = n_bytes_payload;
        let rude_octs = rude.div_ceil(8) as u64;
        let l = 2 + rude_octs;
        let hdr = 0x1000_0000_0000_0000u64 | (l & 0xf) | ((l & !0xf) << 4);
        let flags = 0x0800_0000_0000_0000u64 | rude as u64;
        let mut v = Vec::new();
        v.extend_from_slice(&hdr.to_le_bytes());
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend(std::iter::repeat_n(tag, rude));
        v.resize((l * 8) as usize, 0);
        v
    }

    #[test]
    fn create_deposit_read_wrap() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "a/b",
                &CreateOptions {
                    size: 8192,
                    toc_capacity: 6,
                    flock: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(pools.list().unwrap(), vec!["a/b".to_string()]);
        let mut p = pools.open("a/b").unwrap();
        assert_eq!(p.index_range().unwrap(), None);
        for i in 0..500i64 {
            let prot = protein(100 + (i as usize % 7) * 40, i as u8);
            let (idx, _) = p.deposit(&prot, i as f64).unwrap();
            assert_eq!(idx, i);
            assert_eq!(p.nth(i).unwrap().protein, prot);
        }
        let (o, n) = p.index_range().unwrap().unwrap();
        assert_eq!(n, 499);
        assert!(o > 0);
        let mut fresh = pools.open("a/b").unwrap();
        for i in o..=n {
            let e = fresh.nth(i).unwrap();
            assert_eq!(e.index, i);
            assert_eq!(e.protein[16], i as u8);
        }
        assert!(matches!(fresh.nth(o - 1), Err(Error::NoSuchProtein { .. })));
        assert!(matches!(fresh.nth(n + 1), Err(Error::NoSuchProtein { .. })));
        drop(p);
        assert_eq!(
            fresh.seek_time(495.2, TimeMatch::Closest).unwrap(),
            Some(495)
        );
        assert_eq!(
            fresh.seek_time(495.2, TimeMatch::AtOrAbove).unwrap(),
            Some(496)
        );
        assert_eq!(fresh.seek_time(1.0, TimeMatch::Closest).unwrap(), Some(o));
        drop(fresh);
        pools.dispose("a/b").unwrap();
        assert!(pools.list().unwrap().is_empty());
        assert!(!tmp.path().join("a").exists());
    }

    #[test]
    fn resize_keeps_newest_and_numbering() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "r",
                &CreateOptions {
                    size: 16384,
                    flock: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut p = pools.open("r").unwrap();
        let mut reader = pools.open("r").unwrap();
        for i in 0..100 {
            p.deposit(&protein(200, i as u8), 0.0).unwrap();
        }
        p.resize(8192).unwrap();
        let (o, n) = reader.index_range().unwrap().unwrap();
        assert_eq!(n, 99);
        assert!(o > 60);
        assert_eq!(reader.nth(99).unwrap().protein[16], 99);
        p.resize(65536).unwrap();
        for i in 100..300 {
            p.deposit(&protein(200, i as u8), 0.0).unwrap();
        }
        let (o2, n2) = reader.index_range().unwrap().unwrap();
        assert_eq!(n2, 299);
        assert!(o2 <= o + 200);
        for i in o2..=n2 {
            assert_eq!(reader.nth(i).unwrap().protein[16], i as u8);
        }
        assert_eq!(reader.info().unwrap().size, 65536);
    }

    #[test]
    fn errors_carry_retorts() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        let opts = CreateOptions {
            size: 4096,
            flock: true,
            ..Default::default()
        };
        pools.create("x", &opts).unwrap();
        assert_eq!(pools.create("x", &opts).unwrap_err().retort(), -200575);
        assert_eq!(pools.open("nope").unwrap_err().retort(), -200570);
        assert_eq!(pools.create("../x", &opts).unwrap_err().retort(), -200550);
        assert_eq!(
            pools.create("x/inner", &opts).unwrap_err().retort(),
            -200576
        );
        pools.create("outer/y", &opts).unwrap();
        assert_eq!(pools.create("outer", &opts).unwrap_err().retort(), -200576);
        let mut p = pools.open("x").unwrap();
        assert_eq!(
            p.deposit(&protein(5000, 1), 0.0).unwrap_err().retort(),
            -200700
        );
        assert_eq!(p.deposit(b"garbage!", 0.0).unwrap_err().retort(), -200800);
        p.change_options(&ChangeOptions {
            frozen: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            p.deposit(&protein(8, 1), 0.0).unwrap_err().retort(),
            -200710
        );
        let c = CreateOptions {
            resizable: false,
            ..opts.clone()
        };
        assert_eq!(pools.create("c", &c).unwrap_err().retort(), -201100);
    }

    #[test]
    fn probe_finds_matching_descrips_both_ways() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "pr",
                &CreateOptions {
                    size: 65536,
                    flock: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut p = pools.open("pr").unwrap();
        for i in 0..30 {
            let d = if i % 10 == 3 {
                vec!["hit".to_string(), format!("n{i}")]
            } else {
                vec!["miss".to_string()]
            };
            p.deposit(&codec::encode_simple_protein(&d, &[]), 0.0)
                .unwrap();
        }
        let want = ["hit".to_string()];
        assert_eq!(p.probe(0, &want, true).unwrap().index, 3);
        assert_eq!(p.probe(4, &want, true).unwrap().index, 13);
        assert_eq!(p.probe(29, &want, false).unwrap().index, 23);
        assert_eq!(p.probe(12, &want, false).unwrap().index, 3);
        assert!(matches!(
            p.probe(24, &want, true),
            Err(Error::NoSuchProtein { .. })
        ));
        assert!(p.probe(0, &["nope".to_string()], true).is_err());
    }

    #[test]
    fn single_file_pool_lives_in_one_file() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        let opts = CreateOptions {
            size: 8192,
            single_file: true,
            ..Default::default()
        };
        pools.create("dir/one", &opts).unwrap();
        assert!(tmp.path().join("dir/one").is_file());
        assert_eq!(pools.list().unwrap(), vec!["dir/one".to_string()]);
        let mut p = pools.open("dir/one").unwrap();
        p.deposit(&protein(40, 7), 1.0).unwrap();
        super::super::io::ensure_awaiter(&mut p).unwrap();
        assert!(tmp.path().join("dir/.notification/one").is_dir());
        assert_eq!(p.nth(0).unwrap().protein, protein(40, 7));
        assert_eq!(p.info().unwrap().pool_version, 6);
        drop(p);
        pools.dispose("dir/one").unwrap();
        assert!(!tmp.path().join("dir").exists());
    }

    #[test]
    fn semaphore_pool_locks_and_dispose_removes_the_set() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "sem",
                &CreateOptions {
                    size: 8192,
                    flock: false,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut p = pools.open("sem").unwrap();
        let key = p.info().unwrap().sem_key;
        for i in 0..50 {
            assert_eq!(p.deposit(&protein(100, i as u8), 0.0).unwrap().0, i);
        }
        assert!(sem::exists(key));
        drop(p);
        pools.dispose("sem").unwrap();
        assert!(!sem::exists(key));
        pools
            .create(
                "sem2",
                &CreateOptions {
                    size: 8192,
                    flock: false,
                    ..Default::default()
                },
            )
            .unwrap();
        pools.dispose("sem2").unwrap();
    }

    #[test]
    fn stop_when_full_refuses_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "s",
                &CreateOptions {
                    size: 4096,
                    stop_when_full: true,
                    flock: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut p = pools.open("s").unwrap();
        let mut n = 0;
        let err = loop {
            match p.deposit(&protein(200, 0), 0.0) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
            assert!(n < 100);
        };
        assert!(matches!(err, Error::Full { .. }));
        assert_eq!(p.index_range().unwrap(), Some((0, n - 1)));
    }

    fn small_pool(pools: &Pools, name: &str, size: u64) {
        pools
            .create(
                name,
                &CreateOptions {
                    size,
                    flock: true,
                    ..Default::default()
                },
            )
            .unwrap();
    }

    #[test]
    fn hose_position_follows_libplasma() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        small_pool(&pools, "h", 8192);
        let mut w = pools.open("h").unwrap();
        let mut h = pools.open("h").unwrap();
        assert_eq!(h.index(), 0);
        assert!(matches!(h.next(), Err(Error::NoSuchProtein { .. })));
        assert!(matches!(h.prev(), Err(Error::NoSuchProtein { .. })));
        h.runout().unwrap();
        assert_eq!(h.index(), 0);
        for i in 0..5 {
            w.deposit(&protein(40, i), f64::from(i)).unwrap();
        }
        assert_eq!(h.next().unwrap().index, 0);
        assert_eq!(h.next().unwrap().index, 1);
        assert_eq!(h.index(), 2);
        // prev returns the protein just read, and stays on it
        assert_eq!(h.prev().unwrap().index, 1);
        assert_eq!(h.index(), 1);
        assert_eq!(h.curr().unwrap().index, 1);
        assert_eq!(h.prev().unwrap().index, 0);
        assert!(matches!(h.prev(), Err(Error::NoSuchProtein { .. })));
        h.tolast().unwrap();
        assert_eq!(h.index(), 4);
        h.runout().unwrap();
        assert_eq!(h.index(), 5);
        assert!(matches!(h.next(), Err(Error::NoSuchProtein { .. })));
        assert_eq!(h.index(), 5);
        // past the end: prev drops to the newest
        h.seekto(1000);
        assert_eq!(h.prev().unwrap().index, 4);
        // negative positions read from 0
        h.seekto(-7);
        assert_eq!(h.next().unwrap().index, 0);
        h.seekby(2);
        assert_eq!(h.index(), 3);
        h.seekto_time(2.2, TimeMatch::Closest).unwrap();
        assert_eq!(h.index(), 2);
        // overwrite the first proteins: next jumps up to the oldest
        for i in 5..200 {
            w.deposit(&protein(40, i as u8), f64::from(i)).unwrap();
        }
        let (o, _) = h.index_range().unwrap().unwrap();
        assert!(o > 3);
        h.seekto(1);
        assert_eq!(h.next().unwrap().index, o);
        h.rewind().unwrap();
        assert_eq!(h.index(), o);
        // a previous protein that was overwritten fails, with the hose moved onto it
        h.seekto(o);
        assert!(matches!(h.prev(), Err(Error::NoSuchProtein { .. })));
        assert_eq!(h.index(), o - 1);
    }

    #[test]
    fn probes_match_slaw_needles_and_move_the_hose() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        small_pool(&pools, "pb", 65536);
        let mut p = pools.open("pb").unwrap();
        let prot = |d: Slaw| {
            crate::engine::slaw::encode_protein(&crate::engine::slaw::Protein::new(d, Slaw::Nil))
        };
        p.deposit(&prot(Slaw::strings(["a", "b", "c"])), 0.0)
            .unwrap(); // 0
        p.deposit(&prot(Slaw::list([Slaw::i64(7), Slaw::from("x")])), 0.0)
            .unwrap(); // 1
        p.deposit(&prot(Slaw::strings(["c", "a"])), 0.0).unwrap(); // 2
        p.deposit(&prot(Slaw::list([Slaw::i32(7)])), 0.0).unwrap(); // 3
        p.deposit(&prot(Slaw::strings(["a", "x", "c"])), 0.0)
            .unwrap(); // 4
        let ac = Slaw::strings(["a", "c"]);
        assert_eq!(p.probe_slaw(0, &ac, true).unwrap().index, 0);
        // in order only: ["c", "a"] has both but not as a subsequence
        assert_eq!(p.probe_slaw(1, &ac, true).unwrap().index, 4);
        assert_eq!(p.probe_slaw(3, &ac, false).unwrap().index, 0);
        // non-string needles match by encoded equality: int64 7 is not int32 7
        assert_eq!(p.probe_slaw(0, &Slaw::i64(7), true).unwrap().index, 1);
        assert_eq!(p.probe_slaw(2, &Slaw::i32(7), true).unwrap().index, 3);
        assert!(p.probe_slaw(2, &Slaw::i64(7), true).is_err());
        // the hose versions move the position past (forward) or onto (back) the match
        p.seekto(0);
        assert_eq!(p.probe_frwd(&Slaw::from("x")).unwrap().index, 1);
        assert_eq!(p.index(), 2);
        assert_eq!(p.probe_frwd(&Slaw::from("x")).unwrap().index, 4);
        assert_eq!(p.index(), 5);
        assert!(p.probe_frwd(&Slaw::from("x")).is_err());
        assert_eq!(p.index(), 5, "a failed probe restores the position");
        assert_eq!(p.probe_back(&Slaw::from("b")).unwrap().index, 0);
        assert_eq!(p.index(), 0);
        assert!(p.probe_back(&Slaw::from("b")).is_err());
        assert_eq!(p.index(), 0);
    }

    #[test]
    fn dispose_and_rename_refuse_a_pool_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        small_pool(&pools, "u", 8192);
        let h = pools.open("u").unwrap();
        assert!(pools.in_use("u").unwrap());
        let e = pools.dispose_unused("u").unwrap_err();
        assert!(matches!(e, Error::InUse { .. }), "{e}");
        assert_eq!(e.retort(), -200530);
        assert!(matches!(
            pools.rename_unused("u", "v"),
            Err(Error::InUse { .. })
        ));
        drop(h);
        assert!(!pools.in_use("u").unwrap());
        pools.rename_unused("u", "v").unwrap();
        pools.dispose_unused("v").unwrap();
        assert!(!pools.exists("v"));
        // the unconditional forms work under an open hose, which keeps reading
        small_pool(&pools, "f", 8192);
        let mut h = pools.open("f").unwrap();
        h.deposit(&protein(8, 3), 0.0).unwrap();
        pools.rename("f", "g").unwrap();
        assert_eq!(h.nth(0).unwrap().protein, protein(8, 3));
        pools.dispose("g").unwrap();
        assert!(!pools.exists("g"));
        assert_eq!(h.nth(0).unwrap().protein, protein(8, 3));
    }

    #[test]
    fn auto_dispose_happens_when_the_last_hose_closes() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools
            .create(
                "ad/x",
                &CreateOptions {
                    size: 8192,
                    flock: false,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut a = pools.open("ad/x").unwrap();
        let b = pools.open("ad/x").unwrap();
        let key = a.info().unwrap().sem_key;
        a.deposit(&protein(8, 1), 0.0).unwrap();
        a.change_options(&ChangeOptions {
            auto_dispose: Some(true),
            ..Default::default()
        })
        .unwrap();
        drop(a);
        assert!(pools.exists("ad/x"), "another hose is still open");
        drop(b);
        assert!(!pools.exists("ad/x"));
        assert!(!tmp.path().join("ad").exists());
        assert!(!sem::exists(key));
        // without the flag, closing leaves the pool alone
        small_pool(&pools, "keep", 8192);
        drop(pools.open("keep").unwrap());
        assert!(pools.exists("keep"));
        // a hose of a pool disposed and re-created under it never disposes the new one
        small_pool(&pools, "re", 8192);
        let mut old = pools.open("re").unwrap();
        old.change_options(&ChangeOptions {
            auto_dispose: Some(true),
            ..Default::default()
        })
        .unwrap();
        pools.dispose("re").unwrap();
        small_pool(&pools, "re", 8192);
        drop(old);
        assert!(pools.exists("re"));
    }

    #[test]
    fn shrunk_file_is_truncated_when_the_last_hose_closes() {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        small_pool(&pools, "t", 65536);
        let backing = pools.paths("t").unwrap().backing;
        let len = || fs::metadata(&backing).unwrap().len();
        let mut w = pools.open("t").unwrap();
        let mut r = pools.open("t").unwrap();
        for i in 0..100 {
            w.deposit(&protein(300, i as u8), 0.0).unwrap();
        }
        w.resize(16384).unwrap();
        assert_eq!(len(), 65536, "no truncation while hoses are open");
        drop(w);
        assert_eq!(len(), 65536, "the reader still has it open");
        assert_eq!(r.info().unwrap().size, 16384);
        drop(r);
        assert_eq!(len(), 16384);
        let mut again = pools.open("t").unwrap();
        assert_eq!(again.newest_index().unwrap(), Some(99));
        assert_eq!(again.nth(99).unwrap().protein, protein(300, 99));
        // growing afterwards works from the truncated file
        again.resize(32768).unwrap();
        assert_eq!(len(), 32768);
        assert_eq!(again.deposit(&protein(300, 1), 0.0).unwrap().0, 100);
    }
}
