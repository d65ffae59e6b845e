//! Finding and loading the Chinese font for PDF documents.
//!
//! No Rust crate ships a CJK font, so the PDFs use Debian's `fonts-noto-cjk`
//! (`NotoSansCJK-Regular.ttc`, face 2 = Simplified Chinese) found at run time. A font is
//! read once per process and kept: shaping tables and the parsed face are reused by every
//! document, which is what makes a thousand statements cheap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where distributions put Noto Sans CJK, most likely first (Debian/Ubuntu, Fedora, Arch,
/// a manual install).
pub const SEARCH_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/local/share/fonts/NotoSansCJK-Regular.ttc",
];

/// In NotoSansCJK-*.ttc the faces are JP, KR, SC, TC, HK: 2 is Simplified Chinese.
pub const DEFAULT_COLLECTION_INDEX: u32 = 2;

/// Why no font could be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontError {
    #[error(
        "找不到中文字体 NotoSansCJK-Regular.ttc，无法生成 PDF。请安装：apt-get install fonts-noto-cjk，\
         或用 report.font_path 指定字体文件 (no Chinese font found for PDF output; searched {searched}; \
         install it with `apt-get install fonts-noto-cjk` or set report.font_path)"
    )]
    Missing { searched: String },
    #[error(
        "字体文件 {path} 无法读取 (cannot read the font file {path} set in report.font_path): {reason}"
    )]
    Unreadable { path: String, reason: String },
    #[error(
        "字体文件 {path} 不是可用的 OpenType 字体或不含第 {index} 个字形集 (is not a usable OpenType font, or has no face {index})"
    )]
    Invalid { path: String, index: u32 },
}

/// One face, ready to shape (rustybuzz) and to embed (krilla, which subsets it).
pub struct Face {
    pub(crate) pdf: krilla::text::Font,
    pub(crate) shaper: rustybuzz::Face<'static>,
}

/// The faces documents are set in.
pub struct Fonts {
    /// The file the regular face came from, for messages and logs.
    pub path: PathBuf,
    pub(crate) regular: Face,
    /// Titles; the regular face stands in when no bold file sits beside the regular one.
    pub(crate) bold: Option<Face>,
}

impl Fonts {
    pub(crate) fn face(&self, bold: bool) -> &Face {
        match (&self.bold, bold) {
            (Some(b), true) => b,
            _ => &self.regular,
        }
    }
}

/// Fonts already read, by file and face.
type Loaded = HashMap<(PathBuf, u32), Arc<Fonts>>;

/// The fonts for `configured` (a path from `report.font_path`, empty = search), loaded
/// once per process and path.
pub fn load(configured: &str, index: u32) -> Result<Arc<Fonts>, FontError> {
    static CACHE: OnceLock<Mutex<Loaded>> = OnceLock::new();
    let path = locate(configured, |p| p.is_file())?;
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = cache.get(&(path.clone(), index)) {
        return Ok(f.clone());
    }
    let regular = read_face(&path, index)?;
    let bold = bold_sibling(&path)
        .filter(|p| p.is_file())
        .and_then(|p| read_face(&p, index).ok());
    let fonts = Arc::new(Fonts {
        path: path.clone(),
        regular,
        bold,
    });
    cache.insert((path, index), fonts.clone());
    Ok(fonts)
}

/// The configured path when set (it must exist), else the first of [`SEARCH_PATHS`] that
/// exists. `exists` is a parameter so the search is testable without touching the disk.
pub fn locate(configured: &str, exists: impl Fn(&Path) -> bool) -> Result<PathBuf, FontError> {
    if !configured.is_empty() {
        let p = PathBuf::from(configured);
        return if exists(&p) {
            Ok(p)
        } else {
            Err(FontError::Unreadable {
                path: configured.to_owned(),
                reason: "文件不存在 (no such file)".into(),
            })
        };
    }
    SEARCH_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| exists(p))
        .ok_or_else(|| FontError::Missing {
            searched: SEARCH_PATHS.join(", "),
        })
}

/// `NotoSansCJK-Regular.ttc` → `NotoSansCJK-Bold.ttc` in the same directory.
fn bold_sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    name.contains("Regular")
        .then(|| path.with_file_name(name.replace("Regular", "Bold")))
}

fn read_face(path: &Path, index: u32) -> Result<Face, FontError> {
    let bytes = std::fs::read(path).map_err(|e| FontError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    // A single-face file (.ttf/.otf) has face 0 only; the index applies to collections.
    let index = if bytes.starts_with(b"ttcf") { index } else { 0 };
    // Kept for the life of the process (the cache never drops a font), so the shaper can
    // borrow it without copying 20 MB per document.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let invalid = || FontError::Invalid {
        path: path.display().to_string(),
        index,
    };
    let shaper = rustybuzz::Face::from_slice(bytes, index).ok_or_else(invalid)?;
    let pdf = krilla::text::Font::new(bytes.into(), index).ok_or_else(invalid)?;
    Ok(Face { pdf, shaper })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_wins_and_must_exist() {
        let found = locate("/opt/fonts/x.ttc", |_| true).unwrap();
        assert_eq!(found, PathBuf::from("/opt/fonts/x.ttc"));
        let err = locate("/opt/fonts/x.ttc", |_| false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/opt/fonts/x.ttc") && err.contains("report.font_path"),
            "{err}"
        );
    }

    #[test]
    fn the_search_takes_the_first_usual_path_that_exists() {
        let found = locate("", |p| p.starts_with("/usr/share/fonts/noto-cjk")).unwrap();
        assert_eq!(found, PathBuf::from(SEARCH_PATHS[2]));
    }

    #[test]
    fn a_missing_font_names_the_package_to_install() {
        let err = locate("", |_| false).unwrap_err().to_string();
        assert!(err.contains("apt-get install fonts-noto-cjk"), "{err}");
        assert!(err.contains(SEARCH_PATHS[0]), "{err}");
    }

    #[test]
    fn the_bold_face_is_looked_for_beside_the_regular_one() {
        assert_eq!(
            bold_sibling(Path::new("/a/NotoSansCJK-Regular.ttc")),
            Some(PathBuf::from("/a/NotoSansCJK-Bold.ttc"))
        );
        assert_eq!(bold_sibling(Path::new("/a/wqy.ttc")), None);
    }
}
