//! Finding a vendor profile by name at run time.
//!
//! The ledger names a device's profile (`huawei_sun2000`, `sungrow_sg`...). Profiles are
//! data that a site may correct or extend without a new binary, so the file
//! `config/profiles/NAME.toml` wins when it exists; the profiles shipped with pvledger are
//! compiled in as the fallback, so a gateway with no configuration directory still works.
//! Many devices share one profile, so each is parsed once and handed out as an `Arc`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Profile, ProfileError, shipped};

/// Where profiles are looked for unless told otherwise (relative to the working directory).
pub const DEFAULT_DIR: &str = "config/profiles";

/// Where a loaded profile came from, for logs and the probe's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// A file in the profile directory.
    File(PathBuf),
    /// The copy compiled into the binary.
    Shipped,
}

impl std::fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileSource::File(path) => write!(f, "{}", path.display()),
            ProfileSource::Shipped => f.write_str("built-in"),
        }
    }
}

/// A profile that could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The name could escape the directory or is empty.
    #[error("profile name {0:?} is not valid: use letters, digits, '_' and '-' only")]
    BadName(String),
    /// No file and no shipped profile of that name.
    #[error(
        "no vendor profile {name:?}: {path} does not exist and no built-in profile has that name (built-in: {shipped})"
    )]
    NotFound {
        /// Name asked for.
        name: String,
        /// File looked for.
        path: String,
        /// Names of the shipped profiles.
        shipped: String,
    },
    /// The file exists but could not be read.
    #[error("reading profile {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file or the built-in text is not a valid profile.
    #[error("{origin}: {source}")]
    Invalid {
        /// File path, or "built-in NAME".
        origin: String,
        /// What is wrong (boxed: a TOML error is large and this travels in `Result`s).
        source: Box<ProfileError>,
    },
}

/// Loads profiles from a directory with the shipped ones as fallback, caching each.
#[derive(Debug)]
pub struct ProfileLibrary {
    dir: PathBuf,
    loaded: HashMap<String, (Arc<Profile>, ProfileSource)>,
}

impl ProfileLibrary {
    /// A library reading `dir` (usually [`DEFAULT_DIR`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ProfileLibrary {
            dir: dir.into(),
            loaded: HashMap::new(),
        }
    }

    /// The directory searched first.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The profile `name` (the file stem, as the ledger's `profile` column spells it).
    pub fn get(&mut self, name: &str) -> Result<(Arc<Profile>, ProfileSource), LibraryError> {
        if let Some(found) = self.loaded.get(name) {
            return Ok(found.clone());
        }
        let found = load(&self.dir, name)?;
        let found = (Arc::new(found.0), found.1);
        self.loaded.insert(name.to_owned(), found.clone());
        Ok(found)
    }
}

/// Loads `dir/NAME.toml`, or the shipped profile `name` when that file does not exist.
pub fn load(dir: &Path, name: &str) -> Result<(Profile, ProfileSource), LibraryError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(LibraryError::BadName(name.to_owned()));
    }
    let path = dir.join(format!("{name}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Profile::from_toml_str(&text)
            .map(|p| (p, ProfileSource::File(path.clone())))
            .map_err(|source| LibraryError::Invalid {
                origin: path.display().to_string(),
                source: Box::new(source),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = shipped::text(name).ok_or_else(|| LibraryError::NotFound {
                name: name.to_owned(),
                path: path.display().to_string(),
                shipped: shipped::BY_FILE_NAME
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            Profile::from_toml_str(text)
                .map(|p| (p, ProfileSource::Shipped))
                .map_err(|source| LibraryError::Invalid {
                    origin: format!("built-in {name}"),
                    source: Box::new(source),
                })
        }
        Err(source) => Err(LibraryError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipped_profile_is_found_without_any_directory() {
        let (profile, source) = load(Path::new("/nonexistent"), "huawei_sun2000").unwrap();
        assert_eq!(profile.name, "huawei_sun2000");
        assert_eq!(source, ProfileSource::Shipped);
    }

    #[test]
    fn a_file_on_disk_overrides_the_shipped_profile() {
        let dir = tempfile::tempdir().unwrap();
        let text = shipped::HUAWEI_SUN2000
            .replace("max_registers_per_read = 64", "max_registers_per_read = 32");
        std::fs::write(dir.path().join("huawei_sun2000.toml"), text).unwrap();
        let mut library = ProfileLibrary::new(dir.path());
        let (profile, source) = library.get("huawei_sun2000").unwrap();
        assert_eq!(profile.max_registers_per_read, 32);
        assert!(matches!(source, ProfileSource::File(_)));
        let (again, _) = library.get("huawei_sun2000").unwrap();
        assert!(Arc::ptr_eq(&profile, &again), "parsed once, shared");
    }

    #[test]
    fn an_unknown_name_lists_the_shipped_profiles() {
        let err = load(Path::new("/nonexistent"), "fronius").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("fronius") && text.contains("sungrow_sg"),
            "{text}"
        );
    }

    #[test]
    fn a_name_that_could_leave_the_directory_is_refused() {
        assert!(matches!(
            load(Path::new("."), "../etc/passwd"),
            Err(LibraryError::BadName(_))
        ));
    }

    #[test]
    fn a_broken_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.toml"), "name = 1").unwrap();
        let err = load(dir.path(), "site").unwrap_err();
        assert!(err.to_string().contains("site.toml"), "{err}");
    }
}
