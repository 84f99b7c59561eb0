//! The cluster bus over Redis pub/sub (at-most-once, like core NATS).
//!
//! One task owns the subscribing connection: it reads messages, applies subscribe and
//! unsubscribe commands in the order they were asked (so an unsubscribe can never
//! overtake the next subscribe of the same channel), pings every [`PING_INTERVAL`] (a
//! cut link sends no FIN; an unanswered ping ends the connection), and reconnects.
//! After a reconnect it subscribes every channel again and then raises the core's
//! reconnect, which resyncs local sessions. Publishing uses a second, multiplexed
//! connection: Redis allows nothing but (un)subscribe and ping on a subscribed one.

use super::{Core, Transport};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the subscribing connection is pinged, and how long an answer may take.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// The longest wait for a connection, a publish or a subscribe reply.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Channels per SUBSCRIBE when subscribing everything again.
const RESUBSCRIBE_CHUNK: usize = 500;

enum Command {
    Listen(String, oneshot::Sender<Result<(), String>>),
    Stop(String),
}

/// Redis connections and the subscriber task's command queue.
pub(super) struct RedisTransport {
    commands: mpsc::UnboundedSender<Command>,
    publisher: Arc<Mutex<Option<redis::aio::MultiplexedConnection>>>,
    /// The subscribing connection is up and subscribed.
    up: Arc<std::sync::atomic::AtomicBool>,
}

impl RedisTransport {
    pub(super) fn connect(
        url: &str,
        core: Arc<Core>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<Arc<RedisTransport>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("Redis URL {url}: {e}"))?;
        let (commands, rx) = mpsc::unbounded_channel();
        let transport = Arc::new(RedisTransport {
            commands,
            publisher: Arc::new(Mutex::new(None)),
            up: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        });
        let supervisor = Supervisor {
            client,
            core,
            commands: rx,
            publisher: transport.publisher.clone(),
            up: transport.up.clone(),
        };
        tracker.spawn(supervisor.run(cancel));
        Ok(transport)
    }
}

#[async_trait]
impl Transport for RedisTransport {
    async fn publish(&self, subject: String, payload: Vec<u8>) -> Result<(), String> {
        let connection = self.publisher.lock().expect("publisher").clone();
        let Some(mut connection) = connection else {
            return Err("not connected to Redis".into());
        };
        let mut command = redis::cmd("PUBLISH");
        command.arg(subject).arg(payload);
        let publish = command.query_async::<i64>(&mut connection);
        match tokio::time::timeout(IO_TIMEOUT, publish).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis publish timed out".into()),
        }
    }

    async fn listen(&self, subject: String) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Listen(subject, tx))
            .map_err(|_| "the Redis subscriber has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the Redis subscriber has stopped".to_owned())?
    }

    fn stop(&self, subject: &str) {
        let _ = self.commands.send(Command::Stop(subject.to_owned()));
    }

    /// A PING on the publishing connection (the subscribing one is pinged by its own
    /// task every [`PING_INTERVAL`], and allows no other command).
    async fn round_trip(&self) -> Result<(), String> {
        let connection = self.publisher.lock().expect("publisher").clone();
        let Some(mut connection) = connection else {
            return Err("not connected to Redis".into());
        };
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        match tokio::time::timeout(IO_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis PING timed out".into()),
        }
    }

    fn health(&self) -> Result<(), String> {
        if self.up.load(std::sync::atomic::Ordering::Acquire) {
            Ok(())
        } else {
            Err("not connected to Redis".into())
        }
    }
}

/// The task that owns the subscribing connection.
struct Supervisor {
    client: redis::Client,
    core: Arc<Core>,
    commands: mpsc::UnboundedReceiver<Command>,
    publisher: Arc<Mutex<Option<redis::aio::MultiplexedConnection>>>,
    up: Arc<std::sync::atomic::AtomicBool>,
}

/// Why a connected spell ended.
enum Ended {
    Cancelled,
    Lost(String),
}

impl Supervisor {
    async fn run(mut self, cancel: CancellationToken) {
        let mut attempt: u32 = 0;
        loop {
            let ended = self.connected_spell(&cancel).await;
            let was_up = self.up.swap(false, std::sync::atomic::Ordering::AcqRel);
            *self.publisher.lock().expect("publisher") = None;
            match ended {
                Ok(Ended::Cancelled) => return,
                Ok(Ended::Lost(why)) | Err(why) => {
                    self.core.lost();
                    if was_up {
                        attempt = 0;
                        tracing::warn!(reason = %why, "bus: Redis link lost; not ready until it is back");
                    } else if attempt == 0 {
                        tracing::warn!(reason = %why, "bus: cannot reach Redis; not ready until it can");
                    }
                }
            }
            attempt = attempt.saturating_add(1);
            let pause = Duration::from_millis(100 * u64::from(attempt.min(20)));
            // Commands keep coming while disconnected: refuse listens (they are
            // subscribed on reconnect), forget stops.
            let sleep = tokio::time::sleep(pause);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = &mut sleep => break,
                    command = self.commands.recv() => match command {
                        None => return,
                        Some(Command::Listen(_, ack)) => { let _ = ack.send(Err("not connected to Redis".into())); }
                        Some(Command::Stop(_)) => {}
                    },
                }
            }
        }
    }

    /// Connects, subscribes everything, then serves until the link is lost.
    async fn connected_spell(&mut self, cancel: &CancellationToken) -> Result<Ended, String> {
        let pubsub = timeout(self.client.get_async_pubsub()).await?;
        let publisher = timeout(self.client.get_multiplexed_async_connection()).await?;
        let (mut sink, mut stream) = pubsub.split();
        let subjects = self.core.subjects();
        for chunk in subjects.chunks(RESUBSCRIBE_CHUNK) {
            timeout(sink.subscribe(chunk)).await?;
        }
        *self.publisher.lock().expect("publisher") = Some(publisher);
        self.up.store(true, std::sync::atomic::Ordering::Release);
        tracing::info!(channels = subjects.len(), "bus: connected to Redis");
        self.core.reconnected();
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(Ended::Cancelled),
                message = stream.next() => match message {
                    Some(m) => self.core.receive(m.get_payload_bytes()),
                    None => return Ok(Ended::Lost("the subscribing connection closed".into())),
                },
                command = self.commands.recv() => match command {
                    None => return Ok(Ended::Cancelled),
                    Some(Command::Listen(subject, ack)) => {
                        let done = timeout(sink.subscribe(&subject)).await;
                        let lost = done.is_err();
                        let _ = ack.send(done);
                        if lost {
                            return Ok(Ended::Lost("SUBSCRIBE failed".into()));
                        }
                    }
                    Some(Command::Stop(subject)) => {
                        if timeout(sink.unsubscribe(&subject)).await.is_err() {
                            return Ok(Ended::Lost("UNSUBSCRIBE failed".into()));
                        }
                    }
                },
                _ = ping.tick() => {
                    // While this waits, messages queue in the stream's buffer.
                    if let Err(e) = timeout(sink.ping::<redis::Value>()).await {
                        return Ok(Ended::Lost(format!("ping: {e}")));
                    }
                }
            }
        }
    }
}

async fn timeout<T>(
    future: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(IO_TIMEOUT, future).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer from Redis within {IO_TIMEOUT:?}")),
    }
}
