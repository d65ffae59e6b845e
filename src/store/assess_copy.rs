//! PostgreSQL's binary `COPY` format, parsed for the assessment's bulk read
//! (`assess_packed.rs`): a signature, flags and a header extension, then per row a field
//! count and per field a length (−1 for NULL) and the value, big-endian; a field count of
//! −1 ends the data.

/// One row's `N` fields, `None` for NULL.
pub type Fields<'a, const N: usize> = [Option<&'a [u8]>; N];

pub const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A stream of binary COPY rows of `N` fields, fed in pieces that may split anywhere.
#[derive(Default)]
pub struct CopyParser {
    /// An incomplete row (or header) carried over to the next piece.
    buf: Vec<u8>,
    header_done: bool,
    /// The end marker has been seen.
    pub finished: bool,
}

/// An error naming what was wrong in a COPY of `energy_daily`.
pub fn bad(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("COPY of energy_daily: bad {what}").into())
}

impl CopyParser {
    /// Takes the next piece of the stream and hands every complete row to `row`. A piece
    /// is parsed where it lies when nothing is carried over (the common case: the server
    /// sends one row per message), so only a row split across pieces is copied.
    pub fn feed<const N: usize>(
        &mut self,
        piece: &[u8],
        mut row: impl FnMut(Fields<'_, N>) -> Result<(), sqlx::Error>,
    ) -> Result<(), sqlx::Error> {
        if self.buf.is_empty() {
            let used = self.parse(piece, &mut row)?;
            self.buf.extend_from_slice(&piece[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(piece);
            let used = self.parse(&buf, &mut row)?;
            buf.drain(..used);
            self.buf = buf;
        }
        Ok(())
    }

    /// Parses the complete rows at the start of `b`; returns how many bytes they took.
    fn parse<const N: usize>(
        &mut self,
        b: &[u8],
        row: &mut impl FnMut(Fields<'_, N>) -> Result<(), sqlx::Error>,
    ) -> Result<usize, sqlx::Error> {
        let mut at = 0;
        if !self.header_done {
            if b.len() < 19 {
                return Ok(0);
            }
            if &b[..11] != COPY_SIGNATURE {
                return Err(bad("signature"));
            }
            let ext = i32::from_be_bytes(b[15..19].try_into().expect("four bytes"));
            let ext = usize::try_from(ext).map_err(|_| bad("header"))?;
            if b.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        while !self.finished {
            let Some((next, fields)) = tuple::<N>(b, at)? else {
                break;
            };
            match fields {
                None => self.finished = true,
                Some(f) => row(f)?,
            }
            at = next;
        }
        Ok(at)
    }
}

/// The row starting at `at` if it is complete: where the next starts and its fields
/// (`None` for the end marker); an error for a row of another width.
fn tuple<const N: usize>(
    b: &[u8],
    at: usize,
) -> Result<Option<(usize, Option<Fields<'_, N>>)>, sqlx::Error> {
    let Some(count) = b.get(at..at + 2) else {
        return Ok(None);
    };
    let count = i16::from_be_bytes(count.try_into().expect("two bytes"));
    let mut at = at + 2;
    if count == -1 {
        return Ok(Some((at, None)));
    }
    if usize::try_from(count) != Ok(N) {
        return Err(bad("field count"));
    }
    let mut fields: Fields<'_, N> = [None; N];
    for slot in &mut fields {
        let Some(len) = b.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        if let Ok(len) = usize::try_from(i32::from_be_bytes(len.try_into().expect("four bytes"))) {
            let Some(v) = b.get(at..at + len) else {
                return Ok(None);
            };
            at += len;
            *slot = Some(v);
        }
    }
    Ok(Some((at, Some(fields))))
}

/// A non-NULL field of `W` bytes.
pub fn fixed<const W: usize>(field: Option<&[u8]>, what: &str) -> Result<[u8; W], sqlx::Error> {
    field
        .ok_or_else(|| bad(what))?
        .try_into()
        .map_err(|_| bad(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(copy: &mut Vec<u8>, v: Option<&[u8]>) {
        match v {
            None => copy.extend((-1i32).to_be_bytes()),
            Some(v) => {
                copy.extend((v.len() as i32).to_be_bytes());
                copy.extend(v);
            }
        }
    }

    fn header() -> Vec<u8> {
        let mut copy = COPY_SIGNATURE.to_vec();
        copy.extend(0i32.to_be_bytes()); // flags
        copy.extend(2i32.to_be_bytes()); // a header extension, skipped
        copy.extend([9, 9]);
        copy
    }

    #[test]
    fn rows_parse_the_same_whatever_the_pieces() {
        let mut copy = header();
        for (a, b) in [(7i64, Some(1.5f64)), (8, None)] {
            copy.extend(2i16.to_be_bytes());
            field(&mut copy, Some(&a.to_be_bytes()));
            field(&mut copy, b.map(f64::to_be_bytes).as_ref().map(|v| &v[..]));
        }
        copy.extend((-1i16).to_be_bytes());
        for piece in [1, 5, 64, copy.len()] {
            let mut parser = CopyParser::default();
            let mut out = Vec::new();
            for part in copy.chunks(piece) {
                parser
                    .feed::<2>(part, |f| {
                        let id = i64::from_be_bytes(fixed(f[0], "id")?);
                        out.push((id, f[1].map(|v| v.to_vec())));
                        Ok(())
                    })
                    .unwrap();
            }
            assert!(parser.finished, "pieces of {piece}");
            assert_eq!(out.len(), 2, "pieces of {piece}");
            assert_eq!(out[0], (7, Some(1.5f64.to_be_bytes().to_vec())));
            assert_eq!(out[1], (8, None));
        }
    }

    #[test]
    fn a_row_of_another_width_or_a_bad_signature_is_an_error() {
        let mut copy = header();
        copy.extend(3i16.to_be_bytes());
        assert!(CopyParser::default().feed::<2>(&copy, |_| Ok(())).is_err());
        let mut wrong = header();
        wrong[0] = b'X';
        assert!(CopyParser::default().feed::<2>(&wrong, |_| Ok(())).is_err());
    }
}
