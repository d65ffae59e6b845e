//! Simple printable documents in Chinese: a flow of blocks (title, headings, paragraphs,
//! key-value blocks, tables, signature boxes) laid out top to bottom on A4 pages, with
//! page breaks where a block does not fit (long tables break between rows and repeat their
//! header), a footer and page numbers, and an optional watermark ("草稿" on drafts).
//!
//! Layout is separate from drawing: [`Layout`] produces pages of [`draw::Op`]s (text is
//! shaped once, with real widths, so numbers right-align exactly), and [`Layout::finish`]
//! hands them to [`draw::render`], which knows the page count only at the end.

pub mod draw;

use draw::{Op, PAGE_H, PAGE_W, Shaped, shape};

use crate::report::font::Fonts;

/// Left and right page margin, points.
pub const MARGIN_X: f32 = 50.0;
const TOP: f32 = 56.0;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = PAGE_H - 50.0;
const LINE: f32 = 1.45;
const CELL_PAD: f32 = 4.0;

/// Horizontal alignment in a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    /// Numbers: the decimal points line up when every figure has two decimals.
    Right,
}

/// A table column: header (lines separated by '\n', e.g. Chinese then English), relative
/// width, alignment.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    pub weight: f32,
    pub align: Align,
}

impl Column {
    pub fn new(header: impl Into<String>, weight: f32, align: Align) -> Self {
        Self {
            header: header.into(),
            weight,
            align,
        }
    }
}

/// A table: cells as text (format figures before), an optional bold total row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    pub total: Option<Vec<String>>,
    /// Font size of the cells.
    pub size: f32,
}

/// A box for a signature and stamp: who signs, and the lines under it.
#[derive(Debug, Clone)]
pub struct SignBox {
    pub title: String,
    pub lines: Vec<String>,
}

/// Why a PDF could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(transparent)]
    Font(#[from] crate::report::font::FontError),
    #[error("PDF 生成失败 (PDF output failed): {0}")]
    Render(String),
}

/// A document being laid out.
pub struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
    title: String,
    footer: String,
    watermark: Option<String>,
}

impl<'f> Layout<'f> {
    /// An empty document; `title` goes into the PDF metadata.
    pub fn new(fonts: &'f Fonts, title: impl Into<String>) -> Self {
        Self {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
            title: title.into(),
            footer: String::new(),
            watermark: None,
        }
    }

    /// Text at the bottom left of every page.
    pub fn set_footer(&mut self, text: impl Into<String>) {
        self.footer = text.into();
    }

    /// Large light diagonal text on every page (e.g. "草稿 DRAFT").
    pub fn set_watermark(&mut self, text: impl Into<String>) {
        self.watermark = Some(text.into());
    }

    /// Width between the margins.
    pub fn content_width(&self) -> f32 {
        PAGE_W - 2.0 * MARGIN_X
    }

    /// Number of pages so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Width of `text` at `size`, points.
    pub fn text_width(&self, text: &str, size: f32, bold: bool) -> f32 {
        shape(self.fonts.face(bold), text).width_em * size
    }

    /// Vertical space.
    pub fn space(&mut self, points: f32) {
        self.y += points;
    }

    /// Starts a new page.
    pub fn page_break(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Breaks the page unless `height` more points fit on it.
    pub fn keep(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > TOP {
            self.page_break();
        }
    }

    /// The document title, centred and bold.
    pub fn title(&mut self, text: &str, size: f32) {
        self.keep(size * LINE);
        let w = self.text_width(text, size, true);
        self.y += size;
        self.text_at((PAGE_W - w) / 2.0, size, true, 0, text);
        self.y += size * (LINE - 1.0);
    }

    /// A centred line (subtitle).
    pub fn centered(&mut self, text: &str, size: f32, gray: u8) {
        self.keep(size * LINE);
        let w = self.text_width(text, size, false);
        self.y += size;
        self.text_at((PAGE_W - w) / 2.0, size, false, gray, text);
        self.y += size * (LINE - 1.0);
    }

    /// A section heading, bold, kept with at least three lines of what follows.
    pub fn heading(&mut self, text: &str, size: f32) {
        self.keep(size * LINE * 4.0);
        self.y += size * 0.6;
        self.y += size;
        self.text_at(MARGIN_X, size, true, 0, text);
        self.y += size * (LINE - 1.0);
    }

    /// Text wrapped to the content width.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        for line in self.wrap(text, size, bold, self.content_width()) {
            self.keep(size * LINE);
            self.y += size;
            self.text_at(MARGIN_X, size, bold, 0, &line);
            self.y += size * (LINE - 1.0);
        }
    }

    /// A boxed banner across the page (e.g. "草稿 — 不得公示"), shaded, bold.
    pub fn banner(&mut self, text: &str, size: f32) {
        let h = size * 2.0;
        self.keep(h);
        let w = self.content_width();
        self.push(Op::Fill {
            x: MARGIN_X,
            y: self.y,
            w,
            h,
            gray: 215,
        });
        self.rect(MARGIN_X, self.y, w, h, 1.2);
        let tw = self.text_width(text, size, true);
        let baseline = self.y + h / 2.0 + size * 0.35;
        self.text_at_y(MARGIN_X + (w - tw) / 2.0, baseline, size, true, 0, text);
        self.y += h;
    }

    /// Label: value pairs in `columns` columns, labels in gray.
    pub fn key_values(&mut self, pairs: &[(&str, String)], columns: usize, size: f32) {
        let columns = columns.max(1);
        let col_w = self.content_width() / columns as f32;
        let label_w = pairs
            .iter()
            .map(|(k, _)| self.text_width(k, size, false))
            .fold(0.0, f32::max)
            + size;
        for row in pairs.chunks(columns) {
            let lines: Vec<Vec<String>> = row
                .iter()
                .map(|(_, v)| self.wrap(v, size, false, col_w - label_w - CELL_PAD))
                .collect();
            let n = lines.iter().map(Vec::len).max().unwrap_or(1);
            self.keep(n as f32 * size * LINE);
            let top = self.y;
            for (i, ((k, _), vlines)) in row.iter().zip(&lines).enumerate() {
                let x = MARGIN_X + i as f32 * col_w;
                self.text_at_y(x, top + size, size, false, 90, k);
                for (j, l) in vlines.iter().enumerate() {
                    let y = top + size + j as f32 * size * LINE;
                    self.text_at_y(x + label_w, y, size, false, 0, l);
                }
            }
            self.y = top + n as f32 * size * LINE;
        }
    }

    /// A ruled table over the content width. Rows wrap within their cells; a row that does
    /// not fit goes to the next page, under a repeated header.
    pub fn table(&mut self, table: &Table) {
        let size = if table.size > 0.0 { table.size } else { 9.0 };
        let total_weight: f32 = table.columns.iter().map(|c| c.weight).sum();
        let widths: Vec<f32> = table
            .columns
            .iter()
            .map(|c| c.weight / total_weight * self.content_width())
            .collect();
        let header: Vec<Vec<String>> = table
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                c.header
                    .split('\n')
                    .flat_map(|part| self.wrap(part, size, true, w - 2.0 * CELL_PAD))
                    .collect()
            })
            .collect();
        let header_h = row_height(&header, size);
        let mut cells: Vec<(Vec<Vec<String>>, bool)> = table
            .rows
            .iter()
            .map(|r| (self.wrap_row(r, &widths, size, false), false))
            .collect();
        if let Some(t) = &table.total {
            cells.push((self.wrap_row(t, &widths, size, true), true));
        }
        // The header and the first row stay together.
        let first_h = cells.first().map_or(0.0, |(c, _)| row_height(c, size));
        self.keep(header_h + first_h);
        self.table_row(&header, &widths, table, size, true, true);
        for (row, bold) in &cells {
            let h = row_height(row, size);
            if self.y + h > BOTTOM {
                self.page_break();
                self.table_row(&header, &widths, table, size, true, true);
            }
            self.table_row(row, &widths, table, size, *bold, false);
        }
    }

    /// Signature boxes side by side: a title, then lines (e.g. "负责人签字：", "（盖章）",
    /// "年  月  日"), tall enough for a stamp.
    pub fn sign_boxes(&mut self, boxes: &[SignBox], height: f32, size: f32) {
        self.keep(height);
        let n = boxes.len().max(1) as f32;
        let gap = 10.0;
        let w = (self.content_width() - gap * (n - 1.0)) / n;
        let top = self.y;
        for (i, b) in boxes.iter().enumerate() {
            let x = MARGIN_X + i as f32 * (w + gap);
            self.rect(x, top, w, height, 0.6);
            let tw = self.text_width(&b.title, size, true);
            self.text_at_y(
                x + (w - tw) / 2.0,
                top + size + 6.0,
                size,
                true,
                0,
                &b.title,
            );
            // The lines sit at the bottom, leaving the middle free for the stamp.
            let count = b.lines.len() as f32;
            for (j, l) in b.lines.iter().enumerate() {
                let y = top + height - 8.0 - (count - 1.0 - j as f32) * size * LINE * 1.2;
                self.text_at_y(x + 8.0, y, size, false, 0, l);
            }
        }
        self.y = top + height;
    }

    /// The PDF bytes.
    pub fn finish(self) -> Result<Vec<u8>, PdfError> {
        draw::render(
            self.fonts,
            &self.pages,
            &draw::Frame {
                title: &self.title,
                footer: &self.footer,
                watermark: self.watermark.as_deref(),
            },
        )
        .map_err(PdfError::Render)
    }

    fn table_row(
        &mut self,
        cells: &[Vec<String>],
        widths: &[f32],
        table: &Table,
        size: f32,
        bold: bool,
        header: bool,
    ) {
        let h = row_height(cells, size);
        let top = self.y;
        let total_w: f32 = widths.iter().sum();
        if header {
            self.push(Op::Fill {
                x: MARGIN_X,
                y: top,
                w: total_w,
                h,
                gray: 232,
            });
        }
        let mut x = MARGIN_X;
        for ((lines, w), col) in cells.iter().zip(widths).zip(&table.columns) {
            let align = if header { Align::Center } else { col.align };
            for (j, l) in lines.iter().enumerate() {
                let tw = self.text_width(l, size, bold);
                let tx = match align {
                    Align::Left => x + CELL_PAD,
                    Align::Center => x + (w - tw) / 2.0,
                    Align::Right => x + w - CELL_PAD - tw,
                };
                let y = top + CELL_PAD + size + j as f32 * size * LINE * 0.9;
                self.text_at_y(tx, y, size, bold, 0, l);
            }
            x += w;
        }
        // Rules: top, bottom, and every column edge.
        self.rect(MARGIN_X, top, total_w, h, 0.5);
        let mut x = MARGIN_X;
        for w in &widths[..widths.len().saturating_sub(1)] {
            x += w;
            self.line(x, top, x, top + h, 0.5);
        }
        self.y = top + h;
    }

    fn wrap_row(&self, row: &[String], widths: &[f32], size: f32, bold: bool) -> Vec<Vec<String>> {
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let text = row.get(i).map_or("", String::as_str);
                self.wrap(text, size, bold, w - 2.0 * CELL_PAD)
            })
            .collect()
    }

    /// Greedy line breaking: Chinese may break between any two characters, Latin text at
    /// the last space when there is one on the line.
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let shaped = shape(self.fonts.face(bold), text);
        if shaped.width_em * size <= max || text.is_empty() {
            return vec![text.to_owned()];
        }
        let mut lines = Vec::new();
        let mut start = 0usize;
        let mut width = 0.0;
        for g in &shaped.glyphs {
            let adv = g.x_advance * size;
            let at = g.text_range.start;
            if width + adv > max && at > start {
                // Inside a Latin word: go back to the space before it, if the line has one.
                let seg = &text[start..at];
                let in_word = text[at..].starts_with(|c: char| c.is_ascii_graphic());
                let cut = seg
                    .rfind(' ')
                    .filter(|&p| p > 0 && in_word && seg[p + 1..].is_ascii())
                    .map_or(at, |p| start + p + 1);
                lines.push(text[start..cut].trim_end().to_owned());
                width = self.text_width(&text[cut..at], size, bold);
                start = cut;
            }
            width += adv;
        }
        lines.push(text[start..].to_owned());
        lines
    }

    fn text_at(&mut self, x: f32, size: f32, bold: bool, gray: u8, text: &str) {
        let y = self.y;
        self.text_at_y(x, y, size, bold, gray, text);
    }

    fn text_at_y(&mut self, x: f32, y: f32, size: f32, bold: bool, gray: u8, text: &str) {
        if text.is_empty() {
            return;
        }
        let shaped: Shaped = shape(self.fonts.face(bold), text);
        self.push(Op::Text {
            x,
            y,
            size,
            bold,
            gray,
            text: text.to_owned(),
            shaped,
        });
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        self.push(Op::Line {
            x1,
            y1,
            x2,
            y2,
            width,
        });
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) {
        self.line(x, y, x + w, y, width);
        self.line(x + w, y, x + w, y + h, width);
        self.line(x + w, y + h, x, y + h, width);
        self.line(x, y + h, x, y, width);
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }
}

fn row_height(cells: &[Vec<String>], size: f32) -> f32 {
    let n = cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32;
    2.0 * CELL_PAD + size + (n - 1.0) * size * LINE * 0.9 + size * 0.3
}
