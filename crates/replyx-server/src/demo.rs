//! The demo seed for `replyx serve --demo`: one operator and one assistant with a
//! welcome message and a few rules, created once (found again on later starts), and
//! an identity key for the demo page to sign its "signed-in" visitors with, as a
//! customer site's backend would (`/demo?user=ann`).

use crate::auth::{password, Tokens};
use replyx_core::{Assistant, NewAssistant, NewOperator, ReplyRule, Store};

/// Login of the demo operator.
pub const DEMO_EMAIL: &str = "demo@replyx.local";
/// Password of the demo operator (a demo on a laptop, not a production account).
pub const DEMO_PASSWORD: &str = "replyx-demo";
/// Name of the demo assistant.
pub const DEMO_ASSISTANT: &str = "ReplyX demo assistant";
/// Id of the identity key the demo page signs its visitors with.
pub const DEMO_IDENTITY_KID: &str = "ik_demo";

/// What the demo seed created or found.
pub struct Demo {
    /// The assistant.
    pub assistant: Assistant,
    /// A site token for it.
    pub site_token: String,
}

/// Creates the demo operator and assistant unless they exist.
///
/// # Errors
/// Store failures.
pub async fn seed(store: &dyn Store, tokens: &Tokens) -> anyhow::Result<Demo> {
    if store.operator_by_email(DEMO_EMAIL).await?.is_none() {
        let hash = password::hash(DEMO_PASSWORD)?;
        store
            .create_operator(NewOperator {
                email: DEMO_EMAIL.into(),
                name: "Demo Operator".into(),
                password_hash: hash,
                role: replyx_core::Role::Admin,
            })
            .await?;
    }
    let existing = store
        .list_assistants()
        .await?
        .into_iter()
        .find(|a| a.name == DEMO_ASSISTANT);
    let assistant = match existing {
        Some(a) => a,
        None => store.create_assistant(demo_assistant()).await?,
    };
    let keys = store.identity_keys(assistant.id).await?;
    if !keys.iter().any(|k| k.kid == DEMO_IDENTITY_KID) {
        let key = replyx_core::IdentityKey {
            kid: DEMO_IDENTITY_KID.into(),
            ..crate::auth::identity::new_key()
        };
        match store.add_identity_key(assistant.id, key).await {
            // Another process seeding the same file at once added it first.
            Ok(()) | Err(replyx_core::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let site_token = tokens.sign_site(assistant.id, &assistant.allowed_domains);
    Ok(Demo {
        assistant,
        site_token,
    })
}

fn rule(keywords: &[&str], reply: &str) -> ReplyRule {
    ReplyRule {
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        reply: reply.into(),
    }
}

fn demo_assistant() -> NewAssistant {
    NewAssistant {
        name: DEMO_ASSISTANT.into(),
        welcome_message: Some(
            "Hi! I'm the ReplyX demo assistant. Ask me about prices, delivery or opening hours, \
             or type \"operator\" to talk to a human."
                .into(),
        ),
        allowed_domains: vec!["localhost".into(), "127.0.0.1".into()],
        rules: vec![
            rule(&["price", "cost", "цена", "стоим"], "Plans start at $29 per month; the first 14 days are free."),
            rule(&["delivery", "shipping", "доставк"], "We ship within 2 business days; delivery is free over $50."),
            rule(&["hours", "open", "часы", "работа"], "Operators answer Monday to Friday, 9:00–18:00 UTC."),
        ],
        fallback_reply: Some(
            "I'm a demo bot with a few rules. Try \"price\", \"delivery\" or \"hours\", or ask for an operator.".into(),
        ),
        // The demo shows the routing queue at work: a visitor asking for a human is
        // given to an online operator at once.
        auto_assign: true,
        ..Default::default()
    }
}

/// The identity token the demo page's "backend" signs for demo user `user` (lowercase
/// letters, at most 20), valid for an hour; `None` for another name or when the demo
/// assistant has no demo key. What a customer site does for its logged-in users.
///
/// # Errors
/// Store failures.
pub async fn identity_token(
    store: &dyn Store,
    assistant: &Assistant,
    user: &str,
) -> anyhow::Result<Option<String>> {
    if user.is_empty() || user.len() > 20 || !user.bytes().all(|b| b.is_ascii_lowercase()) {
        return Ok(None);
    }
    let keys = store.identity_keys(assistant.id).await?;
    let Some(key) = keys.iter().find(|k| k.kid == DEMO_IDENTITY_KID) else {
        return Ok(None);
    };
    let mut name = user.to_owned();
    name[..1].make_ascii_uppercase();
    let exp = chrono::Utc::now().timestamp() + 3600;
    let claims = serde_json::json!({
        "sub": format!("demo-{user}"),
        "name": name,
        "email": format!("{user}@demo.replyx.local"),
        "exp": exp,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.secret.as_bytes()),
    )?;
    Ok(Some(token))
}
