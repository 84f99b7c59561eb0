//! The site widget's Origin check: the page's host must be one of the assistant's
//! allowed domains or a subdomain of one. Scheme and port are ignored; entries may be
//! written as bare hosts or as URLs.

/// The host of an `Origin` header value, lowercased.
pub fn origin_host(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

/// The host of an allowed-domains entry (scheme, port and path dropped), lowercased.
pub fn domain_host(entry: &str) -> String {
    let entry = entry.trim().to_ascii_lowercase();
    let without_scheme = entry.split("://").last().unwrap_or(&entry);
    let host_port = without_scheme.split('/').next().unwrap_or(without_scheme);
    let host = if host_port.starts_with('[') {
        host_port
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    host.trim_end_matches('.').to_owned()
}

/// Whether a page at `origin` may use an assistant with `allowed` domains.
pub fn is_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = origin.and_then(origin_host) else {
        return false;
    };
    allowed
        .iter()
        .map(|d| domain_host(d))
        .any(|d| !d.is_empty() && (host == d || host.ends_with(&format!(".{d}"))))
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    fn domains(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_host_and_subdomains_pass_others_fail() {
        let allowed = domains(&["shop.example", "https://Localhost:3000/"]);
        assert!(is_allowed(Some("https://shop.example"), &allowed));
        assert!(is_allowed(Some("https://www.shop.example:8443"), &allowed));
        assert!(is_allowed(Some("http://localhost:9999"), &allowed));
        assert!(!is_allowed(Some("https://evilshop.example"), &allowed));
        assert!(!is_allowed(
            Some("https://shop.example.evil.test"),
            &allowed
        ));
        assert!(!is_allowed(Some("null"), &allowed));
        assert!(!is_allowed(None, &allowed));
    }
}
