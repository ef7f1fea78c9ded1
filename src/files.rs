//! Base layer: files written whole or not at all, checksums, and the
//! checks that an output can be written before a long run. Bundles,
//! checkpoints, demonstrations and reports all write through here.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` atomically: a crash leaves the old file or the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        if disk_full_injected(path) {
            // As a full disk does: part of the file, then the error.
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device (injected for testing)"));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

static FULL_DISK_AT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Testing aid: from now on, [`write_atomic`] to a path that contains
/// `fragment` fails as on a full disk, after writing half the file (`None`
/// ends it). Process-wide: a test that uses it runs alone in its binary.
#[doc(hidden)]
pub fn inject_full_disk(fragment: Option<&str>) {
    *FULL_DISK_AT.lock().unwrap_or_else(|e| e.into_inner()) = fragment.map(str::to_string);
}

fn disk_full_injected(path: &Path) -> bool {
    let at = FULL_DISK_AT.lock().unwrap_or_else(|e| e.into_inner());
    at.as_deref().is_some_and(|f| path.to_string_lossy().contains(f))
}

/// Checks, before a long run, that `path` can be written: its directory is
/// created if missing and a probe file is written and removed there. The
/// error names the path.
pub fn check_output_file(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Invalid(format!("{}: is a directory, not a file that can be written", path.display())));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::Invalid(format!("{}: cannot create its directory {}: {e}", path.display(), dir.display())))?;
    let probe = dir.join(format!(".{}.probe", path.file_name().and_then(|n| n.to_str()).unwrap_or("output")));
    std::fs::write(&probe, b"").map_err(|e| Error::io(path, e))?;
    std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// Creates `dir` if missing and proves it writable with a probe file; the
/// error names the path.
pub fn check_output_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!("{}: is a file, not a directory that outputs can be written to", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"").map_err(|e| Error::io(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// Runs a third-party decoder of bytes read from a file, turning a panic
/// inside it (burn's record loaders `expect` on some malformed input) into
/// an error for the caller to name the file in. The panic hook still
/// prints its message.
pub fn decode_guarded<T, E: std::fmt::Display>(decode: impl FnOnce() -> std::result::Result<T, E>) -> std::result::Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => {
            let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(format!("malformed ({why})"))
        }
    }
}
