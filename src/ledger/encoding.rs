//! Text decoding of import files. Chinese Excel saves CSV as GB18030/GBK, or as UTF-8 with a
//! byte-order mark; hand-written files are plain UTF-8. All three are accepted.

/// The encoding a file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEncoding {
    Utf8,
    Utf8Bom,
    Gb18030,
}

/// Decodes a file's bytes: a UTF-8 BOM is dropped, valid UTF-8 is taken as is, anything
/// else is read as GB18030 (a superset of GBK and GB2312). Returns an error when the bytes
/// are neither, naming the first offending byte offset.
pub fn decode(bytes: &[u8]) -> Result<(String, SourceEncoding), String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_owned(), SourceEncoding::Utf8Bom))
            .map_err(|e| {
                format!(
                    "invalid UTF-8 after the byte-order mark at byte {}",
                    e.valid_up_to() + 3
                )
            });
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), SourceEncoding::Utf8));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err("the file is neither UTF-8 nor GB18030/GBK text".into());
    }
    Ok((text.into_owned(), SourceEncoding::Gb18030))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_utf8_bom_is_dropped() {
        let (text, enc) = decode("\u{feff}编码,名称".as_bytes()).unwrap();
        assert_eq!(text, "编码,名称");
        assert_eq!(enc, SourceEncoding::Utf8Bom);
    }

    #[test]
    fn gbk_bytes_are_read_as_chinese() {
        let (bytes, _, _) = encoding_rs::GBK.encode("编码,名称\n149901,清河县\n");
        let (text, enc) = decode(&bytes).unwrap();
        assert_eq!(text, "编码,名称\n149901,清河县\n");
        assert_eq!(enc, SourceEncoding::Gb18030);
    }

    #[test]
    fn plain_utf8_is_taken_as_is() {
        assert_eq!(
            decode(b"code\n").unwrap(),
            ("code\n".into(), SourceEncoding::Utf8)
        );
    }
}
