//! The token signing secret: `REPLYX_SECRET` when set, otherwise a random secret kept
//! in `replyx.secret` beside the database (created on first start with mode 0600), so
//! every process and command on that database signs and checks with the same key.

use rand::RngCore;
use std::path::Path;

/// File name of a generated secret inside the data directory.
pub const SECRET_FILE: &str = "replyx.secret";

/// Resolves the secret: explicit, or read from / generated into `data_dir`, or (for an
/// in-memory store) random for this process only.
///
/// # Errors
/// The secret file cannot be read or written.
pub fn resolve(explicit: Option<&str>, data_dir: Option<&Path>) -> anyhow::Result<String> {
    if let Some(secret) = explicit {
        anyhow::ensure!(
            secret.len() >= 16,
            "REPLYX_SECRET must be at least 16 characters"
        );
        return Ok(secret.to_owned());
    }
    let Some(dir) = data_dir else {
        return Ok(random());
    };
    let path = dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    }
    std::fs::create_dir_all(dir)?;
    let secret = random();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "REPLYX_SECRET is not set; generated a new signing secret");
    Ok(secret)
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => Ok(f.write_all(secret.as_bytes())?),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => anyhow::bail!("cannot write {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
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
