//! The token signing secret: `REPLYX_SECRET` when set, otherwise a random secret kept
//! in `replyx.secret` beside the database (created on first start with mode 0600), so
//! every process and command on that database signs and checks with the same key.

use rand::RngCore;
use std::path::Path;

/// File name of a generated secret inside the data directory.
pub const SECRET_FILE: &str = "replyx.secret";

/// Shortest secret accepted, from the environment or the file.
const MIN_LEN: usize = 16;

/// Resolves the secret: explicit, or read from / generated into `data_dir`, or (for an
/// in-memory store) random for this process only.
///
/// # Errors
/// The secret is shorter than 16 characters (explicit or in the file: an empty or
/// truncated file is refused, never silently replaced, since every token signed with
/// the old secret would stop working), or the file cannot be read or written.
pub fn resolve(explicit: Option<&str>, data_dir: Option<&Path>) -> anyhow::Result<String> {
    if let Some(secret) = explicit {
        anyhow::ensure!(
            secret.len() >= MIN_LEN,
            "REPLYX_SECRET must be at least {MIN_LEN} characters"
        );
        return Ok(secret.to_owned());
    }
    let Some(dir) = data_dir else {
        return Ok(random());
    };
    let path = dir.join(SECRET_FILE);
    if !path.exists() {
        std::fs::create_dir_all(dir)?;
        if create_once(dir, &path, &random())? {
            tracing::info!(path = %path.display(), "REPLYX_SECRET is not set; generated a new signing secret");
        }
    }
    // Whoever created it, every process uses what the file holds.
    let kept = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let kept = kept.trim();
    anyhow::ensure!(
        kept.len() >= MIN_LEN,
        "{} holds {} characters, fewer than {MIN_LEN}: fix or remove it (removing it \
         signs every token anew), or set REPLYX_SECRET",
        path.display(),
        kept.len()
    );
    Ok(kept.to_owned())
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates `path` holding `secret`, atomically: the secret is written and synced to a
/// private temporary file first, then hard-linked into place, which fails when `path`
/// exists. So among processes starting together exactly one wins, and no process ever
/// reads a half-written file. Returns whether this process won.
fn create_once(dir: &Path, path: &Path, secret: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut tmp = tempfile::Builder::new()
        .prefix(".replyx.secret.")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write in {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(secret.as_bytes())?;
    tmp.as_file().sync_all()?;
    match std::fs::hard_link(tmp.path(), path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => anyhow::bail!("cannot create {}: {e}", path.display()),
    }
    // `tmp` is removed on drop; the link keeps the content.
}

#[cfg(test)]
mod tests {
    use super::{resolve, SECRET_FILE};

    /// Before: two processes starting together could each generate a secret and sign
    /// with different keys. Now every racer ends with the one secret on disk.
    #[test]
    fn processes_racing_to_create_the_secret_all_get_the_one_on_disk() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let racers: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (dir.path().to_owned(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        resolve(None, Some(&path)).unwrap()
                    })
                })
                .collect();
            let got: Vec<String> = racers.into_iter().map(|r| r.join().unwrap()).collect();
            let on_disk = std::fs::read_to_string(dir.path().join(SECRET_FILE)).unwrap();
            assert!(got.iter().all(|s| *s == on_disk), "{got:?} vs {on_disk}");
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "no temporary files left behind");
        }
    }

    /// Before: an empty file was replaced silently and a 3-character one accepted.
    #[test]
    fn an_empty_or_short_secret_file_is_refused_naming_the_file() {
        for content in ["", "  \n", "abc"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(SECRET_FILE), content).unwrap();
            let err = resolve(None, Some(dir.path())).unwrap_err().to_string();
            assert!(
                err.contains(SECRET_FILE) && err.contains("fewer than 16"),
                "{err}"
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join(SECRET_FILE)).unwrap(),
                content,
                "left as it was"
            );
        }
    }

    #[test]
    fn generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::resolve(None, Some(dir.path())).unwrap();
        let second = super::resolve(None, Some(dir.path())).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert!(super::resolve(Some("short"), None).is_err());
    }
}
