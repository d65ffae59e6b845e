//! Workbooks for finance staff: one table per sheet with a shaded two-line header (Chinese
//! over English), the header row frozen and filterable, money as numbers in a 0.00 format
//! (so Excel can sum them), and a key-value sheet for summaries.
//!
//! Figures arrive as exact decimals. Excel stores every number as a binary double, so the
//! conversion happens here, at the last moment; amounts below 10^13 元 with two decimals
//! round-trip exactly through a double when displayed to the fen.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

/// How a column's numbers are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// 元, two decimals with thousands separators.
    Money,
    /// kWh, three decimals.
    Energy,
    /// Shares and prices, four decimals.
    Ratio,
    /// Percentages as figures (80 = 80 %), two decimals.
    Percent,
    Integer,
}

impl Kind {
    fn num_format(self) -> &'static str {
        match self {
            Kind::Text => "@",
            Kind::Money => "#,##0.00",
            Kind::Energy => "#,##0.000",
            Kind::Ratio => "0.0000",
            Kind::Percent => "0.00",
            Kind::Integer => "0",
        }
    }
}

/// A column: Chinese header, English header, width in characters, number kind.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub zh: &'static str,
    pub en: &'static str,
    pub width: f64,
    pub kind: Kind,
}

/// Shorthand for a [`Col`].
pub const fn col(zh: &'static str, en: &'static str, width: f64, kind: Kind) -> Col {
    Col {
        zh,
        en,
        width,
        kind,
    }
}

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number shown in the column's format.
    Number(Decimal),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<Decimal> for Cell {
    fn from(d: Decimal) -> Self {
        Cell::Number(d)
    }
}

impl From<Option<Decimal>> for Cell {
    fn from(d: Option<Decimal>) -> Self {
        d.map_or(Cell::Empty, Cell::Number)
    }
}

/// A workbook being written.
pub struct Book {
    wb: Workbook,
    header: Format,
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    pub fn new() -> Self {
        Self {
            wb: Workbook::new(),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_border(FormatBorder::Thin),
        }
    }

    /// A sheet holding one table: header row frozen, filter on the header, rows below.
    pub fn table<R>(
        &mut self,
        name: &str,
        columns: &[Col],
        rows: impl IntoIterator<Item = R>,
    ) -> Result<(), XlsxError>
    where
        R: IntoIterator<Item = Cell>,
    {
        let formats: Vec<Format> = columns
            .iter()
            .map(|c| Format::new().set_num_format(c.kind.num_format()))
            .collect();
        let ws = self.wb.add_worksheet();
        ws.set_name(name)?;
        for (i, c) in columns.iter().enumerate() {
            let i = i as u16;
            ws.write_string_with_format(0, i, format!("{}\n{}", c.zh, c.en), &self.header)?;
            ws.set_column_width(i, c.width)?;
        }
        ws.set_row_height(0, 32)?;
        ws.set_freeze_panes(1, 0)?;
        let mut last = 0u32;
        for (r, row) in rows.into_iter().enumerate() {
            let r = r as u32 + 1;
            last = r;
            for (i, cell) in row.into_iter().enumerate() {
                write(ws, r, i as u16, &cell, &formats[i])?;
            }
        }
        if !columns.is_empty() {
            ws.autofilter(0, 0, last, columns.len() as u16 - 1)?;
        }
        Ok(())
    }

    /// A sheet of label / value / note rows under a title (a summary).
    pub fn key_values(
        &mut self,
        name: &str,
        title: &str,
        rows: &[(String, Cell, Kind)],
    ) -> Result<(), XlsxError> {
        let title_format = Format::new().set_bold().set_font_size(14);
        let label = Format::new().set_bold().set_text_wrap();
        let ws = self.wb.add_worksheet();
        ws.set_name(name)?;
        ws.set_column_width(0, 34)?;
        ws.set_column_width(1, 44)?;
        ws.write_string_with_format(0, 0, title, &title_format)?;
        ws.set_row_height(0, 22)?;
        ws.write_string_with_format(1, 0, "项目\nitem", &self.header)?;
        ws.write_string_with_format(1, 1, "数值\nvalue", &self.header)?;
        ws.set_row_height(1, 32)?;
        ws.set_freeze_panes(2, 0)?;
        for (i, (k, v, kind)) in rows.iter().enumerate() {
            let r = i as u32 + 2;
            ws.write_string_with_format(r, 0, k, &label)?;
            let f = Format::new()
                .set_num_format(kind.num_format())
                .set_align(FormatAlign::Left);
            write(ws, r, 1, v, &f)?;
        }
        Ok(())
    }

    /// The .xlsx bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, XlsxError> {
        self.wb.save_to_buffer()
    }
}

fn write(
    ws: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    c: u16,
    cell: &Cell,
    f: &Format,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Empty => {}
        Cell::Text(s) => {
            ws.write_string_with_format(r, c, s, f)?;
        }
        Cell::Number(d) => {
            // Exact decimal to the nearest double; see the module note.
            let v = d.to_f64().unwrap_or(f64::NAN);
            ws.write_number_with_format(r, c, v, f)?;
        }
    }
    Ok(())
}
