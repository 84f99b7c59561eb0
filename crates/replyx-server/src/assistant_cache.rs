//! Assistants as the per-request paths read them: a visitor's POST (and read of a
//! dialog) checks the assistant's domains and identity mode, and the built-in responder
//! reads its rules, for every message (ADR 0017). Read from the store each time, that was two trips to a reader
//! thread per message for rows that change a few times a year; here an assistant read is
//! trusted for `assistant_cache_ttl`.
//!
//! A change made through this process (`PATCH /api/assistants/{id}`) drops the cached
//! copy at once. Another process, or the `identity-key mode` command writing the store
//! directly, is seen within the cache's lifetime: the same bound open visitor sockets
//! already live with (they are checked once, when they open). A lifetime of zero reads
//! the store every time.

use moka::future::Cache;
use replyx_core::{Assistant, Store, StoreError};
use replyx_protocol::AssistantId;
use std::sync::Arc;
use std::time::Duration;

/// Why a cached lookup found nothing to cache; neither answer is kept, so an assistant
/// created elsewhere or a store that comes back is seen on the next lookup.
#[derive(Debug)]
enum Miss {
    Missing,
    Store(StoreError),
}

/// The assistant reader of one process.
#[derive(Clone)]
pub struct AssistantCache {
    store: Arc<dyn Store>,
    cache: Option<Cache<AssistantId, Arc<Assistant>>>,
}

impl AssistantCache {
    /// A reader trusting what it read for `ttl` (zero: not at all).
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .time_to_live(ttl)
                // Far more assistants than one deployment has; a bound all the same.
                .max_capacity(10_000)
                .build()
        });
        Self { store, cache }
    }

    /// The assistant, from the cache while its copy is fresh. Concurrent misses of one
    /// assistant share one store read.
    ///
    /// # Errors
    /// The store could not answer.
    pub async fn get(&self, id: AssistantId) -> Result<Option<Arc<Assistant>>, StoreError> {
        let Some(cache) = &self.cache else {
            return Ok(self.store.assistant(id).await?.map(Arc::new));
        };
        let store = self.store.clone();
        let found = cache
            .try_get_with(id, async move {
                match store.assistant(id).await {
                    Ok(Some(a)) => Ok(Arc::new(a)),
                    Ok(None) => Err(Miss::Missing),
                    Err(e) => Err(Miss::Store(e)),
                }
            })
            .await;
        match found {
            Ok(a) => Ok(Some(a)),
            Err(miss) => match &*miss {
                Miss::Missing => Ok(None),
                Miss::Store(e) => Err(e.clone()),
            },
        }
    }

    /// Forgets the cached copy of `id` (after this process changed it).
    pub async fn forget(&self, id: AssistantId) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replyx_core::{AssistantPatch, IdentityMode, NewAssistant};

    async fn store() -> Arc<dyn Store> {
        let store = replyx_store::SqliteStore::build("sqlite::memory:", "cache-test")
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Arc::new(store)
    }

    async fn new_assistant(store: &dyn Store) -> Assistant {
        store
            .create_assistant(NewAssistant {
                name: "Cached".into(),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    fn enforce() -> AssistantPatch {
        AssistantPatch {
            identity_mode: Some(IdentityMode::Enforce),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_cached_copy_is_kept_until_forgotten() {
        let store = store().await;
        let a = new_assistant(store.as_ref()).await;
        let cache = AssistantCache::new(store.clone(), Duration::from_secs(3600));
        assert_eq!(
            cache.get(a.id).await.unwrap().unwrap().identity_mode,
            IdentityMode::Optional
        );
        store.update_assistant(a.id, enforce()).await.unwrap();
        assert_eq!(
            cache.get(a.id).await.unwrap().unwrap().identity_mode,
            IdentityMode::Optional,
            "trusted for its lifetime"
        );
        cache.forget(a.id).await;
        assert_eq!(
            cache.get(a.id).await.unwrap().unwrap().identity_mode,
            IdentityMode::Enforce
        );
    }

    #[tokio::test]
    async fn a_zero_lifetime_reads_the_store_every_time() {
        let store = store().await;
        let a = new_assistant(store.as_ref()).await;
        let uncached = AssistantCache::new(store.clone(), Duration::ZERO);
        uncached.get(a.id).await.unwrap();
        store.update_assistant(a.id, enforce()).await.unwrap();
        assert_eq!(
            uncached.get(a.id).await.unwrap().unwrap().identity_mode,
            IdentityMode::Enforce
        );
        let cache = AssistantCache::new(store.clone(), Duration::from_secs(3600));
        assert!(cache.get(AssistantId::new()).await.unwrap().is_none());
    }
}
