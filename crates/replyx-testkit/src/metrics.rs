//! Reading one sample out of a Prometheus text exposition, for assertions.

/// The value of the sample called `name` — the metric name with its labels exactly as
/// exposed, e.g. `websocket_connections_total{type="widget"}` — in `exposition`.
///
/// # Panics
/// When the sample is absent or not a number: a missing metric fails the test, it is
/// never read as 0 (a renamed or unregistered metric would otherwise pass every
/// "equals zero" assertion).
pub fn metric(exposition: &str, name: &str) -> f64 {
    let value = exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '));
    match value.map(|v| v.split_whitespace().next().unwrap_or_default().parse()) {
        Some(Ok(v)) => v,
        Some(Err(_)) => panic!("metric {name} is not a number in:\n{exposition}"),
        None => panic!("metric {name} is not exported; the exposition is:\n{exposition}"),
    }
}

#[cfg(test)]
mod tests {
    use super::metric;

    const TEXT: &str = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
                        b{kind=\"x\"} 0\nb_sum 1.5\n";

    #[test]
    fn reads_present_samples_by_exact_name() {
        assert_eq!(metric(TEXT, "a_total"), 3.0);
        assert_eq!(metric(TEXT, "b{kind=\"x\"}"), 0.0);
        assert_eq!(metric(TEXT, "b_sum"), 1.5);
    }

    #[test]
    #[should_panic(expected = "not exported")]
    fn a_missing_metric_fails_instead_of_reading_zero() {
        metric(TEXT, "c_total");
    }

    #[test]
    #[should_panic(expected = "not exported")]
    fn a_prefix_of_another_metric_is_not_that_metric() {
        metric(TEXT, "a");
    }
}
