//! The seq audit's reference: a dialog's whole log as the server stored it, read page
//! by page over HTTP. A log that cannot be read is an error, never an empty list: an
//! empty reference would make every stream look complete.

use crate::Api;
use serde_json::Value;

/// Events per page: the server's largest.
const PAGE: u64 = replyx_server::http::admin_dialogs::MAX_EVENTS_PAGE as u64;

/// One stored event of the log, as far as the audit cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Logged {
    pub(crate) seq: u64,
    /// An internal note: on the admin stream only.
    pub(crate) internal: bool,
}

/// Every event of `dialog` after `since` (admin stream), in seq order.
///
/// # Errors
/// A page could not be read, or the pages do not reach the `last_seq` the server
/// reports (a log that changed under the audit, or a broken page).
pub(crate) async fn fetch_log(
    api: &Api,
    token: &str,
    dialog: &str,
    since: u64,
) -> anyhow::Result<Vec<Logged>> {
    let mut log = Vec::new();
    let mut after = since;
    let mut last_seq;
    loop {
        let path = format!("/api/dialogs/{dialog}/events?since={after}&limit={PAGE}");
        let (status, body) = api.get(&path, Some(token)).await;
        anyhow::ensure!(status == 200, "reading {path}: {status} {body}");
        last_seq = body["last_seq"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("{path}: no last_seq in {body}"))?;
        let page = body["events"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{path}: no events in {body}"))?;
        for event in page {
            log.push(logged(event).ok_or_else(|| anyhow::anyhow!("{path}: bad event {event}"))?);
        }
        match log.last() {
            Some(newest) if page.len() as u64 == PAGE => after = newest.seq,
            _ => break,
        }
    }
    let newest = log.last().map_or(since, |e| e.seq);
    anyhow::ensure!(
        newest == last_seq.max(since),
        "dialog {dialog}: the log's pages end at seq {newest}, the dialog at {last_seq}"
    );
    Ok(log)
}

fn logged(event: &Value) -> Option<Logged> {
    Some(Logged {
        seq: event["seq"].as_u64()?,
        internal: event["message"]["internal"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::fetch_log;
    use crate::{Fixture, TestServer};

    /// Past one page: the audit's reference is the whole log, not its first 500.
    #[tokio::test]
    async fn the_whole_log_is_read_page_by_page_and_an_unreadable_one_is_an_error() {
        let server = TestServer::start().await;
        let fx = Fixture::seed(&server).await;
        let v = fx.open_widget(None).await;
        let welcome = v.loaded_seq();
        for i in 0..620 {
            fx.operator_says(&v.dialog_id, &format!("m{i}"), i % 100 == 7)
                .await;
        }
        let log = fetch_log(&fx.api, &fx.operator_token, &v.dialog_id, 0)
            .await
            .unwrap();
        let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=620 + welcome).collect::<Vec<_>>());
        assert_eq!(log.iter().filter(|e| e.internal).count(), 7);
        let tail = fetch_log(&fx.api, &fx.operator_token, &v.dialog_id, 600)
            .await
            .unwrap();
        assert_eq!(tail.len() as u64, 620 + welcome - 600);

        let unreadable = fetch_log(&fx.api, "not-a-token", &v.dialog_id, 0).await;
        assert!(unreadable.unwrap_err().to_string().contains("401"));
    }
}
