//! Reading the service's `/metrics` (Prometheus text exposition) in tests.

/// The value of an unlabelled sample in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
}

/// The `/metrics` text of the service at `base` (`http://host:port`), checked to be a
/// Prometheus text exposition.
pub async fn metrics_of(base: &str) -> String {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text().await.unwrap()
}

/// One unlabelled sample of the service at `base`.
pub async fn sample(base: &str, name: &str) -> f64 {
    metric(&metrics_of(base).await, name)
}
