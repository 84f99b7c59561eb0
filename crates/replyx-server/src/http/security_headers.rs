//! Security headers on every response. Pages set their own `Content-Security-Policy`
//! (the console a strict one, the widget frame the sites that may frame it); anything
//! else (the API's JSON, health, static modules) gets a policy that allows nothing and
//! no framing. `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`
//! go on everything.

use crate::auth::origin::domain_host;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// For responses that set no policy of their own.
const NOTHING: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers a handler did not set.
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NOTHING),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Sets `policy` on `response`.
pub fn set_policy(response: &mut Response, policy: &str) {
    if let Ok(v) = HeaderValue::from_str(policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The console's policy: its own scripts, styles and sockets only, never framed.
/// `connect-src` names the socket origins of the host it was served from: `'self'`
/// covers `ws:` only in browsers that implement CSP level 3's rule for it.
pub fn console_policy(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    let sockets = host.map_or(String::new(), |h| format!(" ws://{h} wss://{h}"));
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{sockets}; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'; object-src 'none'"
    )
}

/// The widget frame's policy: framed only by pages on the assistant's allowed domains
/// (and their subdomains, any port and scheme, as the site Origin check allows) and by
/// this server's own pages (the demo). Entries that are not plain host names are left
/// out rather than trusted into the header.
pub fn frame_policy(allowed_domains: &[String]) -> String {
    let mut ancestors = String::from("'self'");
    for host in allowed_domains.iter().map(|d| domain_host(d)) {
        let plain = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if plain {
            ancestors.push_str(&format!(" {host}:* *.{host}:*"));
        }
    }
    format!("frame-ancestors {ancestors}; object-src 'none'; base-uri 'none'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_policy_lists_the_allowed_domains_and_drops_anything_else() {
        let domains = vec![
            "Shop.Example".to_owned(),
            "https://localhost:3000/".to_owned(),
            "evil.test; script-src *".to_owned(),
            " ".to_owned(),
        ];
        assert_eq!(
            frame_policy(&domains),
            "frame-ancestors 'self' shop.example:* *.shop.example:* localhost:* *.localhost:*; \
             object-src 'none'; base-uri 'none'"
        );
        assert!(frame_policy(&[]).starts_with("frame-ancestors 'self';"));
    }

    #[test]
    fn the_console_policy_names_its_own_socket_origin_only() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("chat.example:8080"));
        let p = console_policy(&headers);
        assert!(p.contains("connect-src 'self' ws://chat.example:8080 wss://chat.example:8080;"));
        assert!(p.contains("frame-ancestors 'none'"));
        headers.insert(header::HOST, HeaderValue::from_static("x; script-src *"));
        assert!(console_policy(&headers).contains("connect-src 'self';"));
    }
}
