//! HTTP helpers: a small JSON client and a seeded fixture (operator, assistant, site
//! token) created through the real API.

use crate::server::TestServer;
use crate::ws::WsClient;
use replyx_core::NewOperator;
use serde_json::{json, Value};

/// Longest wait for one HTTP answer.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A JSON client for one server.
#[derive(Clone)]
pub struct Api {
    /// `http://addr`.
    pub base: String,
    http: reqwest::Client,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
pub type Reply = (u16, Value);

impl Api {
    /// A client for `base`. Every request is bounded: a server that takes the
    /// connection and never answers fails the caller instead of hanging it.
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Sends; a network failure is status 0 with the error text as the body.
    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return (0, Value::String(e.to_string())),
        };
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn auth(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Self::auth(
            self.http.get(format!("{}{path}", self.base)),
            token,
        ))
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::auth(
            self.http.post(format!("{}{path}", self.base)).json(&body),
            token,
        ))
        .await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::auth(
            self.http.patch(format!("{}{path}", self.base)).json(&body),
            token,
        ))
        .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::auth(
            self.http.put(format!("{}{path}", self.base)).json(&body),
            token,
        ))
        .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Self::auth(
            self.http.delete(format!("{}{path}", self.base)),
            token,
        ))
        .await
    }

    /// `POST path` with a JSON body and an `Origin` header.
    pub async fn post_from(
        &self,
        origin: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Reply {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", origin)
            .json(&body);
        self.send(Self::auth(req, token)).await
    }

    /// `GET path` with an `Origin` header.
    pub async fn get_from(&self, origin: &str, path: &str, token: Option<&str>) -> Reply {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("origin", origin);
        self.send(Self::auth(req, token)).await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: String,
        content_type: &str,
    ) -> Reply {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(Self::auth(req, token)).await
    }
}

/// The welcome message of the fixture assistant.
pub const WELCOME: &str = "Welcome! How can we help?";
/// The page origin the fixture assistant allows.
pub const SITE_ORIGIN: &str = "https://shop.example";

/// A seeded server: an operator (logged in), an assistant with a welcome message and a
/// keyword rule, and a site token.
#[derive(Clone)]
pub struct Fixture {
    /// Client.
    pub api: Api,
    /// Operator bearer token.
    pub operator_token: String,
    /// Assistant id.
    pub assistant_id: String,
    /// Site token for the assistant.
    pub site_token: String,
}

/// Creates an operator straight in the store (password hashing is the CLI's job).
pub async fn create_operator(server: &TestServer, email: &str, name: &str, password: &str) {
    let hash = replyx_server::auth::password::hash(password).expect("hash");
    server
        .state
        .store
        .create_operator(NewOperator {
            email: email.into(),
            name: name.into(),
            password_hash: hash,
            role: replyx_core::Role::Admin,
        })
        .await
        .expect("operator created");
}

impl Fixture {
    /// Seeds `server`: an operator in its store, the rest through its API.
    pub async fn seed(server: &TestServer) -> Fixture {
        create_operator(server, "ann@example.test", "Ann", "correct horse battery").await;
        Self::seed_http(
            &Api::new(&server.base),
            "ann@example.test",
            "correct horse battery",
        )
        .await
    }

    /// Logs in as an existing operator and creates the assistant and site token over HTTP.
    pub async fn seed_http(api: &Api, email: &str, password: &str) -> Fixture {
        let api = api.clone();
        let operator_token = Self::login(&api, email, password).await;
        let (status, assistant) = api
            .post(
                "/api/assistants",
                Some(&operator_token),
                json!({
                    "name": "Helper",
                    "welcome_message": WELCOME,
                    "allowed_domains": ["shop.example"],
                    "rules": [{"keywords": ["price"], "reply": "It costs 10."}],
                }),
            )
            .await;
        assert_eq!(status, 201, "{assistant}");
        let assistant_id = assistant["id"].as_str().expect("id").to_owned();
        let (status, token) = api
            .post(
                &format!("/api/assistants/{assistant_id}/site-token"),
                Some(&operator_token),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{token}");
        Fixture {
            api,
            operator_token,
            assistant_id,
            site_token: token["site_token"].as_str().expect("token").to_owned(),
        }
    }

    /// Logs in and returns the token.
    pub async fn login(api: &Api, email: &str, password: &str) -> String {
        let (status, body) = api
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// The same fixture talking to another server (same database).
    pub fn via(&self, base: &str) -> Fixture {
        Fixture {
            api: Api::new(base),
            ..self.clone()
        }
    }

    /// Opens (loads or creates) a widget dialog.
    pub async fn open_widget(&self, guest_id: Option<&str>) -> Visitor {
        let (status, load) = self
            .api
            .post(
                "/api/widget/dialogs",
                None,
                json!({"assistant_id": self.assistant_id, "guest_id": guest_id}),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {load}");
        Visitor::from_load("widget", None, load)
    }

    /// Opens a site dialog from the allowed origin.
    pub async fn open_site(&self, guest_id: Option<&str>) -> Visitor {
        let (status, load) = self
            .api
            .post_from(
                SITE_ORIGIN,
                "/api/site/dialogs",
                None,
                json!({"site_token": self.site_token, "guest_id": guest_id}),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {load}");
        Visitor::from_load("site", Some(SITE_ORIGIN.into()), load)
    }

    /// An operator socket on a dialog.
    pub async fn admin_socket(
        &self,
        ws_base: &str,
        dialog_id: &str,
        since: Option<u64>,
    ) -> WsClient {
        let mut url = format!("{ws_base}/ws/dialogs/{dialog_id}");
        if let Some(s) = since {
            url.push_str(&format!("?since={s}"));
        }
        WsClient::connect_operator(&url, &self.operator_token)
            .await
            .expect("admin socket")
    }

    /// Opens this operator's console feed (`/ws/admin/inbox`: the console that makes
    /// an operator present) and waits until the server announces them online. For an
    /// operator without another console open: a second one changes nothing to announce.
    pub async fn console(&self, ws_base: &str) -> WsClient {
        let (status, me) = self
            .api
            .get("/api/auth/me", Some(&self.operator_token))
            .await;
        assert_eq!(status, 200, "{me}");
        let id = me["id"].clone();
        let mut feed =
            WsClient::connect_operator(&format!("{ws_base}/ws/admin/inbox"), &self.operator_token)
                .await
                .expect("console feed");
        feed.until(|f| {
            f["type"] == "operator.presence" && f["operator"]["id"] == id && f["status"] == "online"
        })
        .await;
        feed
    }

    /// Opens another console feed of this operator, who is online already (nothing is
    /// announced): past its handshake.
    pub async fn console_again(&self, ws_base: &str) -> WsClient {
        let mut feed =
            WsClient::connect_operator(&format!("{ws_base}/ws/admin/inbox"), &self.operator_token)
                .await
                .expect("console feed");
        feed.handshake().await;
        feed
    }

    /// Posts an operator message (or note).
    pub async fn operator_says(&self, dialog_id: &str, text: &str, internal: bool) -> Value {
        let (status, event) = self
            .api
            .post(
                &format!("/api/dialogs/{dialog_id}/messages"),
                Some(&self.operator_token),
                json!({"text": text, "internal": internal}),
            )
            .await;
        assert_eq!(status, 201, "{event}");
        event
    }

    /// A handoff action; returns status and body.
    pub async fn handoff(&self, dialog_id: &str, action: &str) -> Reply {
        self.api
            .post(
                &format!("/api/dialogs/{dialog_id}/handoff"),
                Some(&self.operator_token),
                json!({"action": action}),
            )
            .await
    }

    /// The admin stream of a dialog.
    pub async fn admin_events(&self, dialog_id: &str) -> Vec<Value> {
        let (status, body) = self
            .api
            .get(
                &format!("/api/dialogs/{dialog_id}/events?limit=500"),
                Some(&self.operator_token),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["events"].as_array().expect("events").clone()
    }
}

/// A visitor with a loaded dialog.
#[derive(Clone, Debug)]
pub struct Visitor {
    /// `widget` or `site`.
    pub via: &'static str,
    /// The page origin (site mode).
    pub origin: Option<String>,
    /// Dialog id.
    pub dialog_id: String,
    /// Guest id.
    pub guest_id: String,
    /// Guest token.
    pub guest_token: String,
    /// The whole load response.
    pub load: Value,
}

impl Visitor {
    fn from_load(via: &'static str, origin: Option<String>, load: Value) -> Visitor {
        Visitor {
            via,
            origin,
            dialog_id: load["dialog"]["id"].as_str().expect("dialog id").to_owned(),
            guest_id: load["guest_id"].as_str().expect("guest id").to_owned(),
            guest_token: load["guest_token"]
                .as_str()
                .expect("guest token")
                .to_owned(),
            load,
        }
    }

    /// `last_seq` at load.
    pub fn loaded_seq(&self) -> u64 {
        self.load["dialog"]["last_seq"].as_u64().expect("last_seq")
    }

    /// Posts a visitor message.
    pub async fn says(&self, api: &Api, text: &str, client_msg_id: Option<&str>) -> (u16, Value) {
        let path = format!("/api/{}/dialogs/{}/messages", self.via, self.dialog_id);
        let body = json!({"text": text, "client_msg_id": client_msg_id});
        match &self.origin {
            Some(o) => api.post_from(o, &path, Some(&self.guest_token), body).await,
            None => api.post(&path, Some(&self.guest_token), body).await,
        }
    }

    /// The visitor stream over HTTP.
    pub async fn events(&self, api: &Api, since: u64) -> Vec<Value> {
        let path = format!(
            "/api/{}/dialogs/{}/events?since={since}&limit=500",
            self.via, self.dialog_id
        );
        let (status, body) = match &self.origin {
            Some(o) => api.get_from(o, &path, Some(&self.guest_token)).await,
            None => api.get(&path, Some(&self.guest_token)).await,
        };
        assert_eq!(status, 200, "{body}");
        body["events"].as_array().expect("events").clone()
    }

    /// The visitor's socket URL path and query.
    pub fn ws_path(&self, fixture: &Fixture, since: Option<u64>) -> String {
        let mut q = format!("guest_token={}", self.guest_token);
        match self.via {
            "site" => q.push_str(&format!("&site_token={}", fixture.site_token)),
            _ => q.push_str(&format!("&assistant_id={}", fixture.assistant_id)),
        }
        if let Some(s) = since {
            q.push_str(&format!("&since={s}"));
        }
        format!("/ws/{}/dialogs/{}?{q}", self.via, self.dialog_id)
    }

    /// Opens the visitor's socket on `ws_base` (`ws://addr`).
    pub async fn connect(&self, ws_base: &str, fixture: &Fixture, since: Option<u64>) -> WsClient {
        let url = format!("{ws_base}{}", self.ws_path(fixture, since));
        WsClient::connect(&url, self.origin.as_deref())
            .await
            .expect("visitor socket")
    }
}
