//! A disk that loses power: a FUSE passthrough filesystem over a backing directory that keeps
//! every file's written data in memory until an `fsync`/`fdatasync` reaches it, and only then
//! writes it to the backing file. An `O_DSYNC` write (how LMDB writes its meta page) reaches
//! it as a write followed by `FUSE_FSYNC` before the write returns, and `msync` as the dirty
//! pages followed by `FUSE_FSYNC` (the kernel's doing; the first is tested below, the second
//! is not: LMDB writes its data file with `pwrite`, and `lock.mdb` need not survive). [`Mounted::cut`] is the power cut: everything not
//! yet synced is discarded, every later request fails with `EIO`, and the kernel's connection
//! is aborted, so the page cache of the old mount dies with it. What survives is exactly the
//! backing directory, and a fresh [`Mounted::mount`] of it is the machine booting again.
//!
//! The model, deliberately simple and never kinder than a real disk:
//!
//! - file *contents* and *sizes* (writes, truncation) are volatile until the file is synced;
//!   a sync persists the whole file (as `fsync` does, whichever descriptor wrote it);
//! - the namespace (create, mkdir, unlink, rename, chmod) goes to the backing directory at
//!   once, as a journaling filesystem commits metadata; so a file created or renamed without
//!   a sync survives the cut empty or with its old synced contents, never with unsynced ones;
//! - nothing is persisted in the background: a real kernel writes dirty data back within
//!   about 30 s, and code that is correct only thanks to that writeback is not correct.
//!
//! Two switches make the layer useful for proving that tests built on it can fail:
//! [`Mounted::set_ignore_syncs`] (a disk that acknowledges `fsync` and keeps nothing) and
//! [`Mounted::arm_cut_at_sync`] (cut exactly when the n-th sync of unsynced data arrives,
//! before or after persisting it).
//!
//! It runs inside the test process, on fuser's own thread (mounting with mount(2) as root:
//! no libfuse, no fusermount), and serves only the child processes the test starts.

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Page granularity of the volatile state.
const PAGE: u64 = 4096;
/// How long the kernel may cache entries and attributes.
const TTL: Duration = Duration::from_secs(1);

/// Counters since the mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Write requests received.
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// `fsync`/`fdatasync` requests received (also those with nothing to persist).
    pub syncs: u64,
    /// Syncs that persisted unsynced data.
    pub syncs_persisted: u64,
    /// Syncs acknowledged without persisting anything (the lying-disk switch).
    pub syncs_ignored: u64,
    /// Write requests whose data was persisted by a later sync.
    pub writes_persisted: u64,
    /// What the cut discarded (all zero before the cut).
    pub dropped: Dropped,
}

/// What a power cut discarded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Write requests not covered by a sync (each wrote at least one byte).
    pub writes: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Dirty pages.
    pub pages: u64,
    /// Files with unsynced data or size.
    pub files: u64,
}

/// When the layer cuts the power by itself.
#[derive(Clone, Copy, Debug)]
struct Trigger {
    /// Syncs of unsynced data still to let through before the cut.
    remaining: u64,
    /// Whether the triggering sync is persisted (and acknowledged) before the cut.
    persist_first: bool,
}

/// One file's data that is not on the backing file yet.
#[derive(Debug)]
struct Volatile {
    /// The size every reader sees.
    size: u64,
    /// Dirty pages by index, each `PAGE` bytes (bytes past `size` are zero).
    pages: BTreeMap<u64, Box<[u8]>>,
    /// Backing bytes at or past this offset are gone (a truncation not yet synced).
    floor: Option<u64>,
    /// Write requests and bytes since the last sync.
    writes: u64,
    bytes: u64,
}

impl Volatile {
    fn dirty(&self, backing_len: u64) -> bool {
        !self.pages.is_empty() || self.floor.is_some() || self.size != backing_len
    }
}

#[derive(Debug)]
struct Node {
    /// Path relative to the backing root; `None` once unlinked (or replaced by a rename).
    path: Option<PathBuf>,
}

#[derive(Debug)]
struct State {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    by_path: HashMap<PathBuf, u64>,
    next_ino: u64,
    volatile: HashMap<u64, Volatile>,
    cut: bool,
    ignore_syncs: bool,
    trigger: Option<Trigger>,
    stats: Stats,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when the layer cuts by itself.
    cut_done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a request handler must not hide the state from the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(nix::libc::EIO))
}

/// Reads `[off, off + buf.len())` of `path` as the synced data shows it: zeros past the
/// backing file's end and, when an unsynced truncation is pending, from `floor` on.
fn read_synced(path: &Path, floor: Option<u64>, off: u64, buf: &mut [u8]) -> io::Result<()> {
    buf.fill(0);
    let f = File::open(path)?;
    let mut done = 0usize;
    while done < buf.len() {
        let n = f.read_at(&mut buf[done..], off + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    if let Some(floor) = floor
        && floor < off + buf.len() as u64
    {
        let from = floor.saturating_sub(off) as usize;
        buf[from..].fill(0);
    }
    Ok(())
}

fn kind_of(m: &std::fs::Metadata) -> FileType {
    FileType::from_std(m.file_type()).unwrap_or(FileType::RegularFile)
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH
    }
}

impl State {
    fn new(backing: PathBuf) -> State {
        let mut nodes = HashMap::new();
        nodes.insert(
            INodeNo::ROOT.0,
            Node {
                path: Some(PathBuf::new()),
            },
        );
        let mut by_path = HashMap::new();
        by_path.insert(PathBuf::new(), INodeNo::ROOT.0);
        State {
            backing,
            nodes,
            by_path,
            next_ino: INodeNo::ROOT.0 + 1,
            volatile: HashMap::new(),
            cut: false,
            ignore_syncs: false,
            trigger: None,
            stats: Stats::default(),
        }
    }

    fn rel(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        match self.nodes.get(&ino.0) {
            Some(Node { path: Some(p) }) => Ok(p.clone()),
            Some(Node { path: None }) => Err(Errno::ENOENT),
            None => Err(Errno::ENOENT),
        }
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.backing.join(rel)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.rel(parent)?.join(name))
    }

    fn ino_for(&mut self, rel: &Path) -> u64 {
        if let Some(&ino) = self.by_path.get(rel) {
            return ino;
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                path: Some(rel.to_path_buf()),
            },
        );
        self.by_path.insert(rel.to_path_buf(), ino);
        ino
    }

    fn forget_path(&mut self, rel: &Path) {
        if let Some(ino) = self.by_path.remove(rel)
            && let Some(n) = self.nodes.get_mut(&ino)
        {
            n.path = None;
        }
    }

    /// Attributes of `ino` at `rel`: the backing file's, with the volatile size.
    fn attr(&self, ino: u64, rel: &Path) -> Result<FileAttr, Errno> {
        let m = std::fs::symlink_metadata(self.full(rel)).map_err(|e| errno(&e))?;
        let size = self.volatile.get(&ino).map_or(m.len(), |v| v.size);
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: time(m.atime(), m.atime_nsec()),
            mtime: time(m.mtime(), m.mtime_nsec()),
            ctime: time(m.ctime(), m.ctime_nsec()),
            crtime: time(m.ctime(), m.ctime_nsec()),
            kind: kind_of(&m),
            perm: (m.mode() & 0o7777) as u16,
            nlink: m.nlink() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev() as u32,
            blksize: PAGE as u32,
            flags: 0,
        })
    }

    fn backing_len(&self, rel: &Path) -> u64 {
        std::fs::metadata(self.full(rel)).map_or(0, |m| m.len())
    }

    /// Takes the volatile state of a regular file out of the map (a fresh one, matching
    /// the backing file, if it has none); put it back with [`State::put`].
    fn take(&mut self, ino: u64, rel: &Path) -> Volatile {
        match self.volatile.remove(&ino) {
            Some(v) => v,
            None => Volatile {
                size: self.backing_len(rel),
                pages: BTreeMap::new(),
                floor: None,
                writes: 0,
                bytes: 0,
            },
        }
    }

    fn put(&mut self, ino: u64, v: Volatile) {
        self.volatile.insert(ino, v);
    }

    fn read(&self, ino: u64, rel: &Path, off: u64, size: u32) -> io::Result<Vec<u8>> {
        let v = self.volatile.get(&ino);
        let file_size = v.map_or_else(|| self.backing_len(rel), |v| v.size);
        if off >= file_size {
            return Ok(Vec::new());
        }
        let end = file_size.min(off + u64::from(size));
        let mut buf = vec![0u8; (end - off) as usize];
        read_synced(&self.full(rel), v.and_then(|v| v.floor), off, &mut buf)?;
        if let Some(v) = v {
            for (&p, page) in v.pages.range(off / PAGE..end.div_ceil(PAGE)) {
                let (ps, pe) = (p * PAGE, p * PAGE + PAGE);
                let (s, e) = (ps.max(off), pe.min(end));
                buf[(s - off) as usize..(e - off) as usize]
                    .copy_from_slice(&page[(s - ps) as usize..(e - ps) as usize]);
            }
        }
        Ok(buf)
    }

    fn write(&mut self, ino: u64, rel: &Path, off: u64, data: &[u8]) -> io::Result<()> {
        let mut v = self.take(ino, rel);
        let r = self.write_into(&mut v, rel, off, data);
        self.put(ino, v);
        r?;
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    fn write_into(&self, v: &mut Volatile, rel: &Path, off: u64, data: &[u8]) -> io::Result<()> {
        let end = off + data.len() as u64;
        for p in off / PAGE..end.div_ceil(PAGE) {
            let (ps, pe) = (p * PAGE, p * PAGE + PAGE);
            if !v.pages.contains_key(&p) {
                // The page as a reader saw it (bytes past the current size are zero).
                let mut page = vec![0u8; PAGE as usize];
                if ps < v.size {
                    let upto = (v.size - ps).min(PAGE) as usize;
                    read_synced(&self.full(rel), v.floor, ps, &mut page[..upto])?;
                }
                v.pages.insert(p, page.into_boxed_slice());
            }
            let (s, e) = (ps.max(off), pe.min(end));
            if let Some(page) = v.pages.get_mut(&p) {
                page[(s - ps) as usize..(e - ps) as usize]
                    .copy_from_slice(&data[(s - off) as usize..(e - off) as usize]);
            }
        }
        v.size = v.size.max(end);
        v.writes += 1;
        v.bytes += data.len() as u64;
        Ok(())
    }

    fn truncate(&mut self, ino: u64, rel: &Path, size: u64) {
        let mut v = self.take(ino, rel);
        if size < v.size {
            v.pages.retain(|&p, _| p * PAGE < size);
            if let Some(page) = v.pages.get_mut(&(size / PAGE)) {
                page[(size % PAGE) as usize..].fill(0);
            }
        }
        // Shrinking or growing, the backing bytes from here on no longer show.
        let from = size.min(v.size);
        v.floor = Some(v.floor.map_or(from, |f| f.min(from)));
        v.size = size;
        self.put(ino, v);
    }

    /// Writes the file's volatile state to its backing file.
    fn persist(&mut self, ino: u64) -> io::Result<bool> {
        let Some(v) = self.volatile.get(&ino) else {
            return Ok(false);
        };
        let rel = match self.nodes.get(&ino).and_then(|n| n.path.clone()) {
            Some(p) => p,
            None => {
                // Unlinked: there is nothing left to make durable.
                self.volatile.remove(&ino);
                return Ok(false);
            }
        };
        let path = self.full(&rel);
        let f = OpenOptions::new().write(true).open(&path)?;
        let len = f.metadata()?.len();
        if !v.dirty(len) {
            return Ok(false);
        }
        if let Some(floor) = v.floor
            && floor < len
        {
            f.set_len(floor)?;
        }
        for (&p, page) in &v.pages {
            let start = p * PAGE;
            if start >= v.size {
                continue;
            }
            let n = (v.size - start).min(PAGE) as usize;
            f.write_all_at(&page[..n], start)?;
        }
        f.set_len(v.size)?;
        self.stats.writes_persisted += v.writes;
        self.volatile.remove(&ino);
        Ok(true)
    }

    /// The power cut: drop everything volatile, refuse everything from now on.
    fn cut(&mut self) {
        if self.cut {
            return;
        }
        self.cut = true;
        self.trigger = None;
        let mut d = Dropped::default();
        for (ino, v) in self.volatile.drain() {
            let rel = self.nodes.get(&ino).and_then(|n| n.path.clone());
            let len = rel.map_or(0, |r| {
                std::fs::metadata(self.backing.join(r)).map_or(0, |m| m.len())
            });
            if v.dirty(len) {
                d.files += 1;
            }
            d.writes += v.writes;
            d.bytes += v.bytes;
            d.pages += v.pages.len() as u64;
        }
        self.stats.dropped = d;
    }

    /// Whether `ino` has data or a size that a sync would persist.
    fn has_unsynced(&self, ino: u64) -> bool {
        let rel = self.nodes.get(&ino).and_then(|n| n.path.as_ref());
        match (rel, self.volatile.get(&ino)) {
            (Some(rel), Some(v)) => v.dirty(self.backing_len(rel)),
            _ => false,
        }
    }

    /// A sync of `ino`; `Err(EIO)` when the power is (or goes) out.
    fn sync(&mut self, ino: u64) -> Result<(), Errno> {
        self.stats.syncs += 1;
        if self.has_unsynced(ino)
            && let Some(t) = self.trigger.as_mut()
        {
            if t.remaining > 0 {
                t.remaining -= 1;
            } else {
                let persist_first = t.persist_first;
                if persist_first
                    && !self.ignore_syncs
                    && self.persist(ino).map_err(|e| errno(&e))?
                {
                    self.stats.syncs_persisted += 1;
                }
                self.cut();
                // After persisting, the sync is acknowledged and the power goes out just
                // after; before, the sync never completes.
                return if persist_first {
                    Ok(())
                } else {
                    Err(Errno::EIO)
                };
            }
        }
        if self.ignore_syncs {
            self.stats.syncs_ignored += 1;
            return Ok(());
        }
        if self.persist(ino).map_err(|e| errno(&e))? {
            self.stats.syncs_persisted += 1;
        }
        Ok(())
    }
}

/// The filesystem fuser serves.
struct PowerCutFs {
    shared: Arc<Shared>,
}

impl PowerCutFs {
    /// The state, or `EIO` once the power is out.
    fn live(&self) -> Result<MutexGuard<'_, State>, Errno> {
        let st = self.shared.lock();
        if st.cut { Err(Errno::EIO) } else { Ok(st) }
    }

    fn entry(&self, st: &mut State, rel: &Path) -> Result<FileAttr, Errno> {
        let ino = st.ino_for(rel);
        st.attr(ino, rel)
    }
}

impl Filesystem for PowerCutFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.child(parent, name)?;
            std::fs::symlink_metadata(st.full(&rel)).map_err(|e| errno(&e))?;
            self.entry(&mut st, &rel)
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let r = (|| {
            let st = self.live()?;
            let rel = st.rel(ino)?;
            st.attr(ino.0, &rel)
        })();
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.rel(ino)?;
            if let Some(mode) = mode {
                std::fs::set_permissions(
                    st.full(&rel),
                    std::fs::Permissions::from_mode(mode & 0o7777),
                )
                .map_err(|e| errno(&e))?;
            }
            if let Some(size) = size {
                st.truncate(ino.0, &rel, size);
            }
            st.attr(ino.0, &rel)
        })();
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.child(parent, name)?;
            let full = st.full(&rel);
            std::fs::create_dir(&full).map_err(|e| errno(&e))?;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode & !umask))
                .map_err(|e| errno(&e))?;
            self.entry(&mut st, &rel)
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.child(parent, name)?;
            let full = st.full(&rel);
            let mut o = OpenOptions::new();
            o.write(true).mode(mode & !umask & 0o7777);
            if flags & nix::libc::O_EXCL != 0 {
                o.create_new(true);
            } else {
                o.create(true);
            }
            o.open(&full).map_err(|e| errno(&e))?;
            self.entry(&mut st, &rel)
        })();
        match r {
            Ok(a) => reply.created(&TTL, &a, Generation(0), FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let r = (|| {
            let st = self.live()?;
            let rel = st.rel(ino)?;
            std::fs::symlink_metadata(st.full(&rel)).map_err(|e| errno(&e))?;
            Ok::<(), Errno>(())
        })();
        match r {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = (|| {
            let st = self.live()?;
            let rel = st.rel(ino)?;
            st.read(ino.0, &rel, offset, size).map_err(|e| errno(&e))
        })();
        match r {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        // `O_DSYNC`/`O_SYNC` writes are not persisted here: the kernel follows each with
        // `FUSE_FSYNC` before the write returns (generic_write_sync), and that persists it.
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.rel(ino)?;
            st.write(ino.0, &rel, offset, data).map_err(|e| errno(&e))?;
            Ok::<u32, Errno>(data.len() as u32)
        })();
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) is not a sync.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = (|| {
            let mut st = self.live()?;
            let r = st.sync(ino.0);
            if st.cut {
                self.shared.cut_done.notify_all();
            }
            r
        })();
        match r {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // The namespace is durable at once (see the module's model).
        match self.live() {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.child(parent, name)?;
            std::fs::remove_file(st.full(&rel)).map_err(|e| errno(&e))?;
            st.forget_path(&rel);
            Ok::<(), Errno>(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.child(parent, name)?;
            std::fs::remove_dir(st.full(&rel)).map_err(|e| errno(&e))?;
            st.forget_path(&rel);
            Ok::<(), Errno>(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = (|| {
            if !flags.is_empty() {
                return Err(Errno::EINVAL);
            }
            let mut st = self.live()?;
            let from = st.child(parent, name)?;
            let to = st.child(newparent, newname)?;
            std::fs::rename(st.full(&from), st.full(&to)).map_err(|e| errno(&e))?;
            st.forget_path(&to);
            // Move the renamed entry and everything under it.
            let moved: Vec<(PathBuf, u64)> = st
                .by_path
                .iter()
                .filter(|(p, _)| p.starts_with(&from))
                .map(|(p, &i)| (p.clone(), i))
                .collect();
            for (old, ino) in moved {
                st.by_path.remove(&old);
                let new = match old.strip_prefix(&from) {
                    Ok(tail) if tail.as_os_str().is_empty() => to.clone(),
                    Ok(tail) => to.join(tail),
                    Err(_) => continue,
                };
                st.by_path.insert(new.clone(), ino);
                if let Some(n) = st.nodes.get_mut(&ino) {
                    n.path = Some(new);
                }
            }
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let r = (|| {
            let mut st = self.live()?;
            let rel = st.rel(ino)?;
            let mut names: Vec<(std::ffi::OsString, FileType)> = std::fs::read_dir(st.full(&rel))
                .map_err(|e| errno(&e))?
                .filter_map(Result::ok)
                .map(|e| {
                    let kind = e
                        .file_type()
                        .ok()
                        .and_then(FileType::from_std)
                        .unwrap_or(FileType::RegularFile);
                    (e.file_name(), kind)
                })
                .collect();
            names.sort_by(|x, y| x.0.cmp(&y.0));
            let mut entries = vec![
                (ino.0, FileType::Directory, std::ffi::OsString::from(".")),
                (ino.0, FileType::Directory, std::ffi::OsString::from("..")),
            ];
            for (name, kind) in names {
                let child = st.ino_for(&rel.join(&name));
                entries.push((child, kind, name));
            }
            Ok::<_, Errno>(entries)
        })();
        match r {
            Ok(entries) => {
                for (i, (child, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(*child), i as u64 + 1, *kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }
}

/// A mounted [`PowerCutFs`]. Dropping it cuts the power (nothing unsynced survives a
/// test that forgets to) and unmounts.
pub struct Mounted {
    shared: Arc<Shared>,
    mountpoint: PathBuf,
    session: Option<fuser::BackgroundSession>,
}

/// Why FUSE cannot be used here (for a skip message), or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("the test mounts FUSE with mount(2), which needs root".into());
    }
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        return Some(format!("cannot open /dev/fuse: {e}"));
    }
    None
}

impl Mounted {
    /// Mounts a fresh layer over `backing` at `mountpoint` (both existing directories).
    pub fn mount(backing: &Path, mountpoint: &Path) -> io::Result<Mounted> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(backing.to_path_buf())),
            cut_done: Condvar::new(),
        });
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("mf-powercut".into()),
            MountOption::Subtype("powercut".into()),
        ];
        let fs = PowerCutFs {
            shared: Arc::clone(&shared),
        };
        let session = fuser::Session::new(fs, mountpoint, &config)?.spawn()?;
        Ok(Mounted {
            shared,
            mountpoint: mountpoint.to_path_buf(),
            session: Some(session),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }

    /// A disk that acknowledges syncs and persists nothing (`true`), or an honest one.
    pub fn set_ignore_syncs(&self, on: bool) {
        self.shared.lock().ignore_syncs = on;
    }

    /// Cuts the power when the `n`-th (from 1) sync of unsynced data from now arrives:
    /// before persisting it (the sync fails with `EIO`), or just after persisting and
    /// acknowledging it (`persist_first`). [`Mounted::wait_cut`] waits for it.
    pub fn arm_cut_at_sync(&self, n: u64, persist_first: bool) {
        self.shared.lock().trigger = Some(Trigger {
            remaining: n.saturating_sub(1),
            persist_first,
        });
    }

    /// Waits up to `limit` for the armed cut; true when the power is out.
    pub fn wait_cut(&self, limit: Duration) -> bool {
        let st = self.shared.lock();
        let (st, _) = self
            .shared
            .cut_done
            .wait_timeout_while(st, limit, |s| !s.cut)
            .unwrap_or_else(|e| e.into_inner());
        st.cut
    }

    /// Cuts the power now (if the layer has not already) and aborts the kernel connection:
    /// every request still queued or in flight fails, and nothing reaches the daemon again.
    /// Returns the counters, with what the cut discarded. Kill the processes using the
    /// mount next, then call [`Mounted::unmount`].
    pub fn cut(&self) -> Stats {
        self.shared.lock().cut();
        self.shared.cut_done.notify_all();
        // umount2(MNT_FORCE) calls FUSE's umount_begin, which aborts the connection; the
        // unmount itself then fails with EBUSY while a process still has files open.
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_FORCE);
        self.stats()
    }

    /// Cuts the power (if not already), detaches the mount and ends fuser's thread.
    pub fn unmount(mut self) -> Stats {
        self.finish();
        self.stats()
    }

    fn finish(&mut self) {
        if self.session.is_none() {
            return;
        }
        self.cut();
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
        if let Some(s) = self.session.take() {
            // The session's loop ends when the aborted connection answers ENODEV; its own
            // unmount finds nothing mounted.
            let _ = s.umount_and_join();
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The layer's own tests: what survives a cut and what does not, read back through a fresh
/// mount (so nothing can come from the old mount's page cache).
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    struct Fixture {
        _tmp: tempfile::TempDir,
        backing: PathBuf,
        root: PathBuf,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let backing = tmp.path().join("disk");
        std::fs::create_dir_all(&backing).expect("backing");
        let root = tmp.path().to_path_buf();
        Fixture {
            _tmp: tmp,
            backing,
            root,
        }
    }

    impl Fixture {
        fn mount(&self, name: &str) -> Option<Mounted> {
            let mnt = self.root.join(name);
            std::fs::create_dir_all(&mnt).expect("mountpoint");
            super::super::mount_or_skip(&self.backing, &mnt)
        }
    }

    fn write(path: &Path, data: &[u8]) -> File {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .expect("open for writing");
        f.write_all(data).expect("write");
        f
    }

    fn read(path: &Path) -> Vec<u8> {
        let mut v = Vec::new();
        File::open(path)
            .expect("open")
            .read_to_end(&mut v)
            .expect("read");
        v
    }

    #[test]
    fn unsynced_writes_are_lost_at_the_cut_and_synced_ones_survive() {
        let fx = fixture();
        let Some(m) = fx.mount("mnt-1") else {
            return;
        };
        let at = |n: &str| m.path().join(n);
        // fsync, then more without one.
        let mut a = write(&at("a"), b"synced");
        a.sync_all().expect("fsync");
        a.write_all(b" + unsynced").expect("write");
        // Never synced.
        let _b = write(&at("b"), b"never synced");
        // fdatasync.
        let c = write(&at("c"), &[7u8; 10_000]);
        c.sync_data().expect("fdatasync");
        // O_DSYNC: each write is durable when it returns (LMDB writes its meta page so).
        let mut d = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(nix::libc::O_DSYNC)
            .open(at("d"))
            .expect("open O_DSYNC");
        d.write_all(b"dsync").expect("write");
        // Synced, then truncated without a sync.
        let e = write(&at("e"), &[1u8; 8192]);
        e.sync_all().expect("fsync");
        e.set_len(100).expect("truncate");
        // Synced, then overwritten in place without a sync.
        let f = write(&at("f"), &[2u8; 5000]);
        f.sync_all().expect("fsync");
        f.write_all_at(&[3u8; 10], 4090).expect("pwrite");
        // Until the cut, readers see everything.
        assert_eq!(read(&at("a")), b"synced + unsynced");
        assert_eq!(read(&at("b")), b"never synced");
        assert_eq!(read(&at("e")).len(), 100);
        assert_eq!(read(&at("f"))[4090..4100], [3u8; 10]);

        let before = m.stats();
        assert_eq!(before.dropped, Dropped::default());
        let s = m.cut();
        // a, b, e, f have unsynced data; each of their unsynced writes is counted.
        assert_eq!(s.dropped.files, 4, "{s:?}");
        assert_eq!(s.dropped.writes, 3, "{s:?}");
        assert!(s.dropped.bytes >= (b" + unsynced".len() + b"never synced".len()) as u64);
        // The old mount answers nothing any more.
        assert!(std::fs::read(at("c")).is_err());
        drop((a, c, d, e, f));
        m.unmount();

        let Some(m2) = fx.mount("mnt-2") else {
            return;
        };
        let at = |n: &str| m2.path().join(n);
        assert_eq!(read(&at("a")), b"synced");
        assert_eq!(
            read(&at("b")),
            b"",
            "the file exists (metadata), its data does not"
        );
        assert_eq!(read(&at("c")), vec![7u8; 10_000]);
        assert_eq!(read(&at("d")), b"dsync");
        assert_eq!(read(&at("e")), vec![1u8; 8192]);
        assert_eq!(read(&at("f")), vec![2u8; 5000]);
        // The backing directory holds the same.
        assert_eq!(read(&fx.backing.join("a")), b"synced");
        m2.unmount();
    }

    #[test]
    fn a_disk_that_ignores_syncs_loses_synced_writes_too() {
        let fx = fixture();
        let Some(m) = fx.mount("mnt-1") else {
            return;
        };
        let honest = write(&m.path().join("honest"), b"kept");
        honest.sync_all().expect("fsync");
        m.set_ignore_syncs(true);
        let lied = write(&m.path().join("lied"), b"acknowledged, not kept");
        lied.sync_all().expect("fsync says yes");
        let s = m.cut();
        assert_eq!(s.syncs_ignored, 1, "{s:?}");
        assert_eq!(s.dropped.writes, 1, "{s:?}");
        drop((honest, lied));
        m.unmount();
        assert_eq!(read(&fx.backing.join("honest")), b"kept");
        assert_eq!(read(&fx.backing.join("lied")), b"");
    }

    #[test]
    fn an_armed_cut_lands_on_a_sync_before_or_after_persisting_it() {
        for persist_first in [false, true] {
            let fx = fixture();
            let Some(m) = fx.mount("mnt-1") else {
                return;
            };
            m.arm_cut_at_sync(2, persist_first);
            let one = write(&m.path().join("one"), b"first sync");
            one.sync_all().expect("the first sync passes");
            let two = write(&m.path().join("two"), b"second sync");
            let r = two.sync_all();
            assert_eq!(r.is_ok(), persist_first, "{r:?}");
            assert!(m.wait_cut(Duration::from_secs(5)));
            // Nothing after the cut reaches the disk.
            assert!(std::fs::write(m.path().join("one"), b"late").is_err());
            drop((one, two));
            m.unmount();
            assert_eq!(read(&fx.backing.join("one")), b"first sync");
            let want: &[u8] = if persist_first { b"second sync" } else { b"" };
            assert_eq!(read(&fx.backing.join("two")), want);
        }
    }

    /// LMDB itself: with syncing on (what the validator uses) every committed transaction
    /// survives the cut; with `MDB_NOSYNC` (a regression to unsynced commits) none does,
    /// although each `commit()` returned `Ok` and a `kill -9` would have lost nothing.
    #[test]
    fn lmdb_commits_survive_the_cut_and_nosync_commits_do_not() {
        for nosync in [false, true] {
            let fx = fixture();
            let Some(m) = fx.mount("mnt-1") else {
                return;
            };
            let dir = m.path().join("db");
            {
                let lock = mf_lmdb::DirLock::acquire(&dir).expect("lock");
                let mut o = heed::EnvOpenOptions::new();
                o.max_dbs(2);
                if nosync {
                    // SAFETY: NO_SYNC trades durability for speed; that loss is the point.
                    unsafe {
                        o.flags(heed::EnvFlags::NO_SYNC);
                    }
                }
                let env = mf_lmdb::open_env(&lock, &o, &dir.join("env")).expect("env");
                let [t] = mf_lmdb::create_tables(&env, ["t"]).expect("table");
                for i in 0u64..5 {
                    let mut w = env.write_txn().expect("txn");
                    t.put(&mut w, &i.to_be_bytes(), &[0xab; 3000]).expect("put");
                    w.commit().expect("commit");
                }
                let s = m.cut();
                if nosync {
                    assert!(s.dropped.writes > 0, "{s:?}");
                }
            }
            m.unmount();
            // What the disk kept, read without the layer.
            let dir = fx.backing.join("db");
            let lock = mf_lmdb::DirLock::acquire(&dir).expect("lock");
            let mut o = heed::EnvOpenOptions::new();
            o.max_dbs(2);
            let env = mf_lmdb::open_env(&lock, &o, &dir.join("env")).expect("env");
            let [t] = mf_lmdb::create_tables(&env, ["t"]).expect("table");
            let r = env.read_txn().expect("txn");
            let kept = t.len(&r).expect("len");
            assert_eq!(kept, if nosync { 0 } else { 5 }, "nosync: {nosync}");
        }
    }
}
