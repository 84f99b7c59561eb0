//! The demo seed for `replyx serve --demo`: one operator and one assistant with a
//! welcome message and a few rules, created once (found again on later starts).

use crate::auth::{password, Tokens};
use replyx_core::{Assistant, NewAssistant, NewOperator, ReplyRule, Store};

/// Login of the demo operator.
pub const DEMO_EMAIL: &str = "demo@replyx.local";
/// Password of the demo operator (a demo on a laptop, not a production account).
pub const DEMO_PASSWORD: &str = "replyx-demo";
/// Name of the demo assistant.
pub const DEMO_ASSISTANT: &str = "ReplyX demo assistant";

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
    }
}
