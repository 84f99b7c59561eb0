//! The built-in rules responder's decision, kept pure: given an assistant's rules and a
//! visitor's text, what should happen. The server runs the effects.

use crate::model::Assistant;

/// Phrases that ask for a human, matched case-insensitively as substrings.
pub const HANDOFF_PHRASES: [&str; 4] = ["operator", "human", "оператор", "человек"];

/// What the assistant does with a visitor message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Hand the dialog to operators.
    Handoff,
    /// Answer with this text.
    Reply(String),
    /// Stay silent.
    Silent,
}

/// Decides the assistant's answer to `text`.
pub fn respond(assistant: &Assistant, text: &str) -> RuleOutcome {
    let lower = text.to_lowercase();
    if HANDOFF_PHRASES.iter().any(|p| lower.contains(p)) {
        return RuleOutcome::Handoff;
    }
    let matched = assistant.rules.iter().find(|rule| {
        rule.keywords
            .iter()
            .any(|k| !k.trim().is_empty() && lower.contains(&k.trim().to_lowercase()))
    });
    match (matched, &assistant.fallback_reply) {
        (Some(rule), _) => RuleOutcome::Reply(rule.reply.clone()),
        (None, Some(fallback)) => RuleOutcome::Reply(fallback.clone()),
        (None, None) => RuleOutcome::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReplyRule;

    fn assistant() -> Assistant {
        Assistant {
            id: Default::default(),
            name: "Demo".into(),
            welcome_message: None,
            allowed_domains: vec![],
            rules: vec![ReplyRule {
                keywords: vec!["Price".into()],
                reply: "It costs 10".into(),
            }],
            fallback_reply: Some("Sorry?".into()),
            identity_mode: Default::default(),
            auto_assign: false,
            release_to: Default::default(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn keyword_reply_fallback_and_handoff() {
        let a = assistant();
        assert_eq!(
            respond(&a, "what is the PRICE?"),
            RuleOutcome::Reply("It costs 10".into())
        );
        assert_eq!(respond(&a, "hello"), RuleOutcome::Reply("Sorry?".into()));
        assert_eq!(respond(&a, "Позовите ОПЕРАТОРА"), RuleOutcome::Handoff);
        assert_eq!(respond(&a, "a human please"), RuleOutcome::Handoff);
    }
}
