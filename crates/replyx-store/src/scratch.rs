//! Throwaway PostgreSQL databases for tests and benchmarks: each run gets its own
//! database (`replyx_t_<uuid>`), created on the server named by `REPLYX_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards, so
//! runs never see each other's rows. When the server is not there the caller fails
//! with a message that says which server and how to start it: a suite that needs
//! PostgreSQL never passes by skipping.

use sqlx::{Connection, PgConnection};

/// The variable naming the PostgreSQL server scratch databases are made on.
pub const PG_URL_VAR: &str = "REPLYX_TEST_PG_URL";

/// Where scratch databases are made when `REPLYX_TEST_PG_URL` is unset.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists until this value is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates a fresh, empty database.
    ///
    /// # Panics
    /// The PostgreSQL server cannot be reached or refuses to create a database; the
    /// message says how to start one.
    pub async fn create() -> Self {
        let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed here and is not reachable at {admin_url} ({e}). Start it \
                 (Debian: `apt-get install postgresql && service postgresql start`, trust auth \
                 for 127.0.0.1) or point {PG_URL_VAR} at a server where this user may create \
                 databases."
            )
        });
        let name = format!("replyx_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name} on {admin_url}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `admin_url` with its database part replaced by `name` (query string kept).
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let host = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime: a thread of its own with a
        // small runtime does the DROP (FORCE closes connections still open).
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop");
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop scratch database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_part_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
