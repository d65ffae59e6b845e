//! Turning laid-out pages into PDF bytes with krilla: shaped glyphs (real, searchable
//! text; krilla writes the ToUnicode map and subsets the font), lines, shaded boxes, the
//! page footer and an optional diagonal watermark.

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{GlyphId, KrillaGlyph};

use crate::report::font::{Face, Fonts};

/// A4 portrait, in PDF points (1/72 inch).
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;

/// A piece of text shaped with one face: its glyphs and its width at size 1.
#[derive(Debug, Clone)]
pub struct Shaped {
    pub(crate) glyphs: Vec<KrillaGlyph>,
    pub(crate) width_em: f32,
}

/// Shapes `text` left to right with `face` (kerning and ligatures from the font).
pub fn shape(face: &Face, text: &str) -> Shaped {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.set_direction(rustybuzz::Direction::LeftToRight);
    buffer.guess_segment_properties();
    let out = rustybuzz::shape(&face.shaper, &[], buffer);
    let upem = face.shaper.units_per_em() as f32;
    let infos = out.glyph_infos();
    let positions = out.glyph_positions();
    let mut glyphs = Vec::with_capacity(infos.len());
    let mut width = 0.0;
    for (i, (info, pos)) in infos.iter().zip(positions).enumerate() {
        let start = info.cluster as usize;
        // A cluster runs to the start of the next different cluster (the text it stands for).
        let end = infos[i + 1..]
            .iter()
            .find(|n| n.cluster != info.cluster)
            .map_or(text.len(), |n| n.cluster as usize);
        let advance = pos.x_advance as f32 / upem;
        width += advance;
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(info.glyph_id),
            advance,
            pos.x_offset as f32 / upem,
            pos.y_offset as f32 / upem,
            pos.y_advance as f32 / upem,
            start..end,
            None,
        ));
    }
    Shaped {
        glyphs,
        width_em: width,
    }
}

/// One drawing operation on a page; y grows downwards from the top edge.
#[derive(Debug, Clone)]
pub enum Op {
    /// Text with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        gray: u8,
        text: String,
        shaped: Shaped,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    /// A filled rectangle (table header shading, banners).
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: u8,
    },
}

/// What goes on every page besides its own operations.
pub struct Frame<'a> {
    pub title: &'a str,
    pub footer: &'a str,
    pub watermark: Option<&'a str>,
}

/// Renders the pages, numbering them "第 i 页 / 共 n 页".
pub fn render(fonts: &Fonts, pages: &[Vec<Op>], frame: &Frame) -> Result<Vec<u8>, String> {
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(frame.title.to_owned())
            .language("zh-CN".to_owned())
            .creator("pvledger".to_owned()),
    );
    let n = pages.len();
    for (i, ops) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid size");
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        if let Some(mark) = frame.watermark {
            watermark(&mut surface, fonts, mark);
        }
        for op in ops {
            draw(&mut surface, fonts, op);
        }
        let size = 8.0;
        let number = format!("第 {} 页 / 共 {n} 页  (page {} of {n})", i + 1, i + 1);
        let face = fonts.face(false);
        let footer_y = PAGE_H - 28.0;
        for (text, right) in [(frame.footer, false), (number.as_str(), true)] {
            let shaped = shape(face, text);
            let x = if right {
                PAGE_W - super::MARGIN_X - shaped.width_em * size
            } else {
                super::MARGIN_X
            };
            draw(
                &mut surface,
                fonts,
                &Op::Text {
                    x,
                    y: footer_y,
                    size,
                    bold: false,
                    gray: 90,
                    text: text.to_owned(),
                    shaped,
                },
            );
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("{e:?}"))
}

fn draw(surface: &mut Surface, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold,
            gray,
            text,
            shaped,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: luma::Color::new(*gray).into(),
                ..Fill::default()
            }));
            surface.draw_glyphs(
                Point::from_xy(*x, *y),
                &shaped.glyphs,
                fonts.face(*bold).pdf.clone(),
                text,
                *size,
                false,
            );
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            width,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y1);
            pb.line_to(*x2, *y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    width: *width,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Fill { x, y, w, h, gray } => {
            let mut pb = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(rect);
            }
            if let Some(path) = pb.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: luma::Color::new(*gray).into(),
                    ..Fill::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

/// Large light diagonal text across the page, under the content.
fn watermark(surface: &mut Surface, fonts: &Fonts, text: &str) {
    let size = 64.0;
    let shaped = shape(fonts.face(true), text);
    let (cx, cy) = (PAGE_W / 2.0, PAGE_H / 2.0);
    surface.push_transform(&Transform::from_rotate_at(-35.0, cx, cy));
    surface.set_stroke(None);
    surface.set_fill(Some(Fill {
        paint: luma::Color::new(225).into(),
        ..Fill::default()
    }));
    // Drawn as outlines, not text: the mark must not mix into the text that copy, search
    // and pdftotext extract.
    surface.draw_glyphs(
        Point::from_xy(cx - shaped.width_em * size / 2.0, cy + size / 3.0),
        &shaped.glyphs,
        fonts.face(true).pdf.clone(),
        text,
        size,
        true,
    );
    surface.pop();
}
