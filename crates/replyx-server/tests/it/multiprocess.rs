//! Two server processes on one database (a blue-green pair, several workers, or two
//! cluster nodes on PostgreSQL and a broker): every event reaches every subscriber,
//! whichever process stored it. The previous system's per-worker connection lists
//! delivered only to whoever shared a worker.

use crate::drain::{add_operator, env};
use replyx_store::scratch::ScratchDatabase;
use replyx_testkit::brokers::{Broker, BrokerKind};
use replyx_testkit::{Api, Fixture, ServerProcess, Visitor, WsClient};
use serde_json::{json, Value};
use std::any::Any;
use std::path::Path;

/// Events of a stream with their seqs, asserted exactly once and in order.
fn assert_once_in_order(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let mut sorted = seqs.clone();
    sorted.dedup();
    assert_eq!(seqs, sorted, "each event once, in order");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

async fn pair(visitor_side: (&Fixture, &str), operator_side: (&Fixture, &str), visitor: &Visitor) {
    let (vfx, vws) = visitor_side;
    let (ofx, ows) = operator_side;
    let mut v: WsClient = visitor.connect(vws, vfx, Some(visitor.loaded_seq())).await;
    v.handshake().await;
    let mut a = ofx
        .admin_socket(ows, &visitor.dialog_id, Some(visitor.loaded_seq()))
        .await;
    a.handshake().await;
    let mut seen_v = Vec::new();
    let mut seen_a = Vec::new();

    let sent = ofx
        .operator_says(&visitor.dialog_id, "from the other process", false)
        .await;
    let (got, _) = v.until(|e| e["seq"] == sent["seq"]).await;
    seen_v.push(got);
    let (got, _) = a.until(|e| e["seq"] == sent["seq"]).await;
    seen_a.push(got);

    let (status, mine) = visitor.says(&vfx.api, "visitor here", Some("k1")).await;
    assert_eq!(status, 201);
    let (got, _) = a.until(|e| e["seq"] == mine["seq"]).await;
    assert_eq!(got["message"]["text"], "visitor here");
    seen_a.push(got);

    v.send_json(json!({"type": "typing", "state": "start"}))
        .await;
    let (typing, _) = a.until(|f| f["type"] == "typing").await;
    assert_eq!(typing["actor"], "visitor");
    a.send_json(json!({"type": "typing", "state": "start"}))
        .await;
    let (typing, before) = v
        .until(|f| f["type"] == "typing" && f["actor"] == "operator")
        .await;
    assert_eq!(typing["state"], "start");
    seen_v.extend(before.into_iter().filter(|e| e["seq"].is_u64()));

    // A read mark sent on one node reaches the other side's socket on the other.
    a.send_json(json!({"type": "read", "up_to": mine["seq"]}))
        .await;
    let (read, before) = v
        .until(|f| f["type"] == "read" && f["reader"] == "operator")
        .await;
    assert_eq!(read["up_to"], mine["seq"]);
    seen_v.extend(before.into_iter().filter(|e| e["seq"].is_u64()));

    let (code, taken) = ofx.handoff(&visitor.dialog_id, "take").await;
    assert_eq!(code, 201, "{taken}");
    let (got, before) = v.until(|e| e["type"] == "dialog.status").await;
    assert_eq!(got["status"], "operator");
    seen_v.extend(before.into_iter().filter(|e| e["seq"].is_u64()));
    seen_v.push(got);

    let (rest_v, _) = v.barrier().await;
    let (rest_a, _) = a.barrier().await;
    seen_v.extend(rest_v.into_iter().filter(|e| e["seq"].is_u64()));
    seen_a.extend(rest_a.into_iter().filter(|e| e["seq"].is_u64()));
    assert_once_in_order(&seen_v);
    let last = ofx.admin_events(&visitor.dialog_id).await;
    let newest = last.last().unwrap()["seq"].as_u64().unwrap();
    // The visitor saw every event of its stream after its load, exactly once.
    let want: Vec<u64> = last
        .iter()
        .filter(|e| {
            e["seq"].as_u64().unwrap() > visitor.loaded_seq() && e["message"]["internal"] != true
        })
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let mut got: Vec<u64> = seen_v.iter().filter_map(|e| e["seq"].as_u64()).collect();
    if got.last().copied() != Some(newest) {
        // The notice after the status event may still be on its way: wait for it.
        let (tail, _) = v.until(|e| e["seq"] == newest).await;
        got.push(tail["seq"].as_u64().unwrap());
    }
    assert_eq!(got, want);
    ofx.handoff(&visitor.dialog_id, "close").await;
}

/// Two real server processes ("blue" and "green") on one fresh database, and the
/// standard fixture seeded through blue.
pub(crate) async fn blue_green() -> (tempfile::TempDir, ServerProcess, ServerProcess, Fixture) {
    let bin = Path::new(env!("CARGO_BIN_EXE_replyx"));
    let dir = tempfile::tempdir().unwrap();
    let url = replyx_testkit::database_url(&dir);
    add_operator(bin, &url, "ann@example.test", "correct horse battery");
    let blue = ServerProcess::spawn(bin, &env(&url)).await;
    let green = ServerProcess::spawn(bin, &env(&url)).await;
    let api = Api::new(&blue.base);
    let on_blue = Fixture::seed_http(&api, "ann@example.test", "correct horse battery").await;
    (dir, blue, green, on_blue)
}

/// What keeps two nodes' shared resources alive (a directory, a database, a broker).
type Keep = Box<dyn Any + Send>;

/// Two cluster nodes on a fresh PostgreSQL database and a broker of their own, and the
/// standard fixture seeded through the first.
async fn two_cluster_nodes(kind: BrokerKind) -> (Keep, ServerProcess, ServerProcess, Fixture) {
    let bin = Path::new(env!("CARGO_BIN_EXE_replyx"));
    let db = ScratchDatabase::create().await;
    let broker = Broker::start(kind).await;
    add_operator(bin, db.url(), "ann@example.test", "correct horse battery");
    let mut node_env = env(db.url());
    node_env.push(("REPLYX_BUS_URL", broker.url()));
    let one = ServerProcess::spawn(bin, &node_env).await;
    let two = ServerProcess::spawn(bin, &node_env).await;
    assert!(
        one.output().contains("store and bus"),
        "the node logs which store and bus it uses"
    );
    let api = Api::new(&one.base);
    let fx = Fixture::seed_http(&api, "ann@example.test", "correct horse battery").await;
    (Box::new((db, broker)), one, two, fx)
}

async fn blue_green_kept() -> (Keep, ServerProcess, ServerProcess, Fixture) {
    let (dir, blue, green, fx) = blue_green().await;
    (Box::new(dir), blue, green, fx)
}

/// Runs a two-process case on one SQLite file, and on two cluster nodes over NATS and
/// over Redis.
macro_rules! on_every_topology {
    ($($case:ident),+ $(,)?) => {
        mod sqlite_file {
            $(#[tokio::test] async fn $case() { super::$case(super::blue_green_kept().await).await })+
        }
        mod postgres_nats {
            $(#[tokio::test] async fn $case() {
                super::$case(super::two_cluster_nodes(super::BrokerKind::Nats).await).await
            })+
        }
        mod postgres_redis {
            $(#[tokio::test] async fn $case() {
                super::$case(super::two_cluster_nodes(super::BrokerKind::Redis).await).await
            })+
        }
    };
}

on_every_topology!(
    two_processes_on_one_database_deliver_every_event_both_ways,
    a_console_on_one_process_sees_inbox_rows_of_dialogs_served_by_the_other,
    typing_handoff_read_marks_and_the_inbox_cross_processes_both_ways,
    a_session_ended_on_one_process_closes_its_sockets_on_the_other,
    presence_and_a_lost_operator_cross_processes,
);

/// Presence is one state for every process: Ann's console on one makes her online for
/// a console on the other; once it is gone past the grace period she is offline there
/// too, and the dialog she held goes back to the queue, told to its visitor on the
/// other process.
async fn presence_and_a_lost_operator_cross_processes(
    (_keep, one, two, on_one): (Keep, ServerProcess, ServerProcess, Fixture),
) {
    let (status, _) = on_one
        .api
        .post(
            "/api/operators",
            Some(&on_one.operator_token),
            json!({"email": "bo@example.test", "name": "Bo", "password": "bo password 1", "role": "agent"}),
        )
        .await;
    assert_eq!(status, 201);
    let api_two = Api::new(&two.base);
    let bo_on_two = Fixture {
        operator_token: Fixture::login(&api_two, "bo@example.test", "bo password 1").await,
        ..on_one.via(&two.base)
    };
    let mut watching = bo_on_two.console(&two.ws_base()).await;
    let ann_console = on_one.console(&one.ws_base()).await;
    watching
        .until(|f| {
            f["type"] == "operator.presence"
                && f["operator"]["name"] == "Ann"
                && f["status"] == "online"
        })
        .await;
    let visitor = on_one.open_widget(None).await;
    assert_eq!(
        on_one
            .via(&two.base)
            .handoff(&visitor.dialog_id, "take")
            .await
            .0,
        201
    );
    let mut v = visitor.connect(&two.ws_base(), &on_one, None).await;
    v.handshake().await;
    drop(ann_console);
    watching
        .until(|f| {
            f["type"] == "operator.presence"
                && f["operator"]["name"] == "Ann"
                && f["status"] == "offline"
        })
        .await;
    let (lost, _) = v
        .until(|e| e["type"] == "dialog.status" && e["status"] == "waiting_operator")
        .await;
    assert_eq!(lost["reason"], "operator_offline");
    let (_, listed) = api_two
        .get("/api/operators/presence", Some(&bo_on_two.operator_token))
        .await;
    let ann = listed["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["operator"]["name"] == "Ann")
        .unwrap()
        .clone();
    assert_eq!(
        (ann["status"].as_str(), ann["held"].as_u64()),
        (Some("offline"), Some(0))
    );
}

/// Logout and password change reach the sockets another process holds: the store is
/// where the session ends, and every process re-checks its open sockets' sessions.
async fn a_session_ended_on_one_process_closes_its_sockets_on_the_other(
    (_keep, blue, green, on_blue): (Keep, ServerProcess, ServerProcess, Fixture),
) {
    let password = "correct horse battery";
    let on_green = on_blue.via(&green.base);
    let visitor = on_blue.open_widget(None).await;
    let mut held = on_green
        .admin_socket(&green.ws_base(), &visitor.dialog_id, None)
        .await;
    held.handshake().await;
    let (status, _) = on_blue
        .api
        .post("/api/auth/logout", Some(&on_blue.operator_token), json!({}))
        .await;
    assert_eq!(status, 204);
    held.expect_close(4001).await;
    let (status, body) = on_green
        .api
        .get("/api/dialogs", Some(&on_green.operator_token))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("session_ended"))
    );

    // A password change on green ends a session whose socket is on blue, not its own.
    let api_blue = Api::new(&blue.base);
    let kept = Fixture::login(&on_green.api, "ann@example.test", password).await;
    let other = Fixture::login(&api_blue, "ann@example.test", password).await;
    let url = format!("{}/ws/admin/inbox", blue.ws_base());
    let mut inbox = WsClient::connect_operator(&url, &other).await.unwrap();
    inbox.handshake().await;
    let (status, body) = on_green
        .api
        .post(
            "/api/auth/password",
            Some(&kept),
            json!({"current_password": password, "new_password": "another long secret"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    inbox.expect_close(4001).await;
    let (status, _) = api_blue.get("/api/dialogs", Some(&kept)).await;
    assert_eq!(
        status, 200,
        "the changing session goes on, on every process"
    );
}

async fn two_processes_on_one_database_deliver_every_event_both_ways(
    (_keep, blue, green, on_blue): (Keep, ServerProcess, ServerProcess, Fixture),
) {
    let on_green = on_blue.via(&green.base);

    for i in 0..20 {
        let (visitor_fx, visitor_ws, operator_fx, operator_ws) = if i % 2 == 0 {
            (&on_blue, blue.ws_base(), &on_green, green.ws_base())
        } else {
            (&on_green, green.ws_base(), &on_blue, blue.ws_base())
        };
        let visitor = if i % 4 < 2 {
            visitor_fx.open_widget(None).await
        } else {
            visitor_fx.open_site(None).await
        };
        pair(
            (visitor_fx, &visitor_ws),
            (operator_fx, &operator_ws),
            &visitor,
        )
        .await;
    }
}

async fn a_console_on_one_process_sees_inbox_rows_of_dialogs_served_by_the_other(
    (_keep, _blue, green, on_blue): (Keep, ServerProcess, ServerProcess, Fixture),
) {
    let inbox_url = format!("{}/ws/admin/inbox", green.ws_base());
    let mut inbox = WsClient::connect_operator(&inbox_url, &on_blue.operator_token)
        .await
        .unwrap();
    inbox.handshake().await;

    let visitor = on_blue.open_widget(None).await;
    let (created, _) = inbox.until(|f| f["type"] == "dialog.created").await;
    assert_eq!(created["dialog"]["id"], visitor.dialog_id.as_str());
    visitor.says(&on_blue.api, "stored by blue", None).await;
    let (updated, _) = inbox
        .until(|f| {
            f["type"] == "dialog.updated" && f["dialog"]["last_message"]["text"] == "stored by blue"
        })
        .await;
    assert_eq!(updated["dialog"]["unread_count"], 1);
}

async fn typing_handoff_read_marks_and_the_inbox_cross_processes_both_ways(
    (_keep, blue, green, on_blue): (Keep, ServerProcess, ServerProcess, Fixture),
) {
    for roles in [
        [&blue.base, &green.base, &green.base],
        [&green.base, &blue.base, &blue.base],
        [&green.base, &green.base, &blue.base],
    ] {
        let roles = roles.map(String::as_str);
        let log = replyx_testkit::crossnode::run_round(&on_blue, roles)
            .await
            .unwrap_or_else(|f| panic!("{roles:?}: {f}"));
        assert!(log.audited_events >= 9, "{log:?}");
    }
}
