//! Which store and bus the settings name, and the combinations refused at start: a
//! PostgreSQL store serves several nodes, which only see each other's events through a
//! broker and only accept each other's tokens with one shared secret.

use super::Settings;

/// The store a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `sqlite:` — one host.
    Sqlite,
    /// `postgres://` or `postgresql://` — a cluster.
    Postgres,
}

impl StoreKind {
    /// Parses the scheme of `url`.
    ///
    /// # Errors
    /// Another scheme.
    pub fn of(url: &str) -> anyhow::Result<StoreKind> {
        if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database_url (REPLYX_DATABASE_URL, --database-url) {:?}: \
                 expected sqlite://PATH or postgres://…",
                redact(url)
            )
        }
    }
}

/// A URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Refuses settings that cannot form a working deployment.
pub(super) fn check(s: &Settings) -> anyhow::Result<()> {
    let store = StoreKind::of(&s.database_url)?;
    if let Some(bus) = &s.bus_url {
        anyhow::ensure!(
            bus.starts_with("nats://") || bus.starts_with("redis://"),
            "unsupported bus_url (REPLYX_BUS_URL, --bus-url) {:?}: expected nats://HOST:PORT \
             or redis://HOST:PORT",
            redact(bus)
        );
    }
    if store == StoreKind::Postgres {
        anyhow::ensure!(
            s.bus_url.is_some(),
            "a PostgreSQL store is for a cluster, and cluster nodes see each other's events \
             through a broker: set bus_url (REPLYX_BUS_URL, --bus-url) to nats://… or redis://…"
        );
        anyhow::ensure!(
            s.secret.is_some(),
            "cluster nodes must sign and check tokens with one secret: set secret \
             (REPLYX_SECRET, --secret) to the same value on every node"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeOptions;

    fn settings(db: &str, bus: Option<&str>, secret: Option<&str>) -> anyhow::Result<Settings> {
        Settings::resolve(ServeOptions {
            database_url: Some(db.into()),
            bus_url: bus.map(Into::into),
            secret: secret.map(Into::into),
            ..Default::default()
        })
    }

    #[test]
    fn postgres_needs_a_bus_and_a_shared_secret() {
        let secret = Some("0123456789abcdef0123");
        let no_bus = settings("postgres://db/replyx", None, secret).unwrap_err();
        assert!(no_bus.to_string().contains("REPLYX_BUS_URL"), "{no_bus}");
        let no_secret = settings("postgres://db/replyx", Some("nats://b:4222"), None).unwrap_err();
        assert!(
            no_secret.to_string().contains("REPLYX_SECRET"),
            "{no_secret}"
        );
        assert!(settings("postgres://db/replyx", Some("redis://b:6379"), secret).is_ok());
        assert!(settings("sqlite://x.db", None, None).is_ok());
    }

    #[test]
    fn unknown_schemes_are_refused_without_printing_passwords() {
        let e = settings("mysql://u:hunter2@db/x", None, None).unwrap_err();
        assert!(e.to_string().contains("REPLYX_DATABASE_URL"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = settings("sqlite://x.db", Some("amqp://u:hunter2@b"), None).unwrap_err();
        assert!(e.to_string().contains("REPLYX_BUS_URL") && !e.to_string().contains("hunter2"));
    }
}
