//! The Prometheus text exposition format (version 0.0.4), written by hand: a few counters,
//! gauges and histograms do not need a metrics crate and its registry. What is exported
//! is gathered in `http::metrics`; this module only formats and keeps histograms.

use std::fmt::Write as _;

/// Upper bounds (seconds) of the latency histograms: a Modbus poll or a writer batch takes
/// from milliseconds (a LAN device, a small batch) to seconds (a 4G link, a large batch).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A cumulative histogram over [`LATENCY_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or below each bound (not yet cumulative).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| value <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds another histogram's observations (several devices of one class).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// Metric kinds as the format names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A text exposition being written: declare a family, then write its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a metric family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample of a counter or gauge.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", number(value));
        self
    }

    /// The `_bucket`, `_sum` and `_count` samples of a histogram.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) -> &mut Self {
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&number(*bound)));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_bucket");
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", h.count);
        let _ = write!(self.out, "{name}_sum");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", number(h.sum));
        let _ = write!(self.out, "{name}_count");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", h.count);
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            out.push(',');
        }
        first = false;
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out.push('}');
}

/// Integers without a fraction; the rest as Rust prints them (shortest round trip).
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples_follow_the_text_format() {
        let mut e = Exposition::default();
        e.family(
            "pvledger_ingest_readings_refused_total",
            Kind::Counter,
            "Readings refused, by reason.",
        )
        .sample(
            "pvledger_ingest_readings_refused_total",
            &[("reason", "unknown_device")],
            3.0,
        )
        .sample(
            "pvledger_ingest_readings_refused_total",
            &[("reason", "a \"quoted\"\\ one")],
            0.5,
        );
        assert_eq!(
            e.finish(),
            "# HELP pvledger_ingest_readings_refused_total Readings refused, by reason.\n\
             # TYPE pvledger_ingest_readings_refused_total counter\n\
             pvledger_ingest_readings_refused_total{reason=\"unknown_device\"} 3\n\
             pvledger_ingest_readings_refused_total{reason=\"a \\\"quoted\\\"\\\\ one\"} 0.5\n"
        );
    }

    #[test]
    fn a_histogram_is_cumulative_and_counts_values_beyond_the_last_bound() {
        let mut h = Histogram::default();
        for v in [0.004, 0.3, 0.3, 100.0] {
            h.observe(v);
        }
        let mut e = Exposition::default();
        e.histogram("poll_seconds", &[("class", "sunspec")], &h);
        let text = e.finish();
        assert!(text.contains("poll_seconds_bucket{class=\"sunspec\",le=\"0.005\"} 1\n"));
        assert!(text.contains("poll_seconds_bucket{class=\"sunspec\",le=\"0.25\"} 1\n"));
        assert!(text.contains("poll_seconds_bucket{class=\"sunspec\",le=\"0.5\"} 3\n"));
        assert!(text.contains("poll_seconds_bucket{class=\"sunspec\",le=\"30\"} 3\n"));
        assert!(text.contains("poll_seconds_bucket{class=\"sunspec\",le=\"+Inf\"} 4\n"));
        assert!(text.contains("poll_seconds_count{class=\"sunspec\"} 4\n"));
        assert!(text.contains("poll_seconds_sum{class=\"sunspec\"} 100.604\n"));
    }

    #[test]
    fn merged_histograms_add_up() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.observe(0.01);
        b.observe(2.0);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.sum, 2.01);
    }
}
