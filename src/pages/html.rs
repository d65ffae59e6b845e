//! HTML escaping. Every value that reaches a page goes through [`esc`] (or [`attr`]), so
//! ledger names, user names and import errors can never inject markup.

/// Escapes text for an HTML element body or a double-quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a value for a URL path segment (station codes are ASCII, but be safe).
pub fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A number with a fixed count of decimals, or a dash when unknown.
pub fn num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_neutralised() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & '光伏'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;光伏&#39;"
        );
        assert_eq!(path_segment("PV-01/../x y"), "PV-01%2F..%2Fx%20y");
        assert_eq!(num(Some(1.234), 1), "1.2");
        assert_eq!(num(None, 1), "–");
    }
}
