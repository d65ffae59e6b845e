//! Documents people print, sign and file: shared by the settlement (workbook, per-village
//! statements) and the efficacy assessment.
//!
//! - [`xlsx`]: workbooks with bilingual headers, money as numbers, frozen header rows.
//! - [`font`]: finds and loads the Chinese font (Debian `fonts-noto-cjk`) once per process.
//! - [`pdf`]: A4 layout primitives (title, key-value block, table, signature boxes,
//!   page breaks, footer with page numbers, watermark) drawn with krilla.
//!
//! Everything here is bytes in, bytes out; the only I/O is reading the font file.

pub mod font;
pub mod pdf;
pub mod xlsx;
