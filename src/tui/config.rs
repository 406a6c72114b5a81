//! The console's config file (console spec section 1): TOML at the platform config
//! dir (`tidepool/config.toml`). Every setting is also a flag; flags win. Unknown
//! keys are reported, never silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors reading the config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but cannot be read.
    #[error("config {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// IO error.
        source: std::io::Error,
    },
    /// The file is not valid config TOML.
    #[error("config {path}: {message}")]
    Parse {
        /// Path.
        path: String,
        /// toml's message with line and column.
        message: String,
    },
}

/// Console settings from the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Local pools directory.
    pub pools_dir: Option<PathBuf>,
    /// Theme name or path.
    pub theme: Option<String>,
    /// Refuse writes.
    pub readonly: bool,
    /// Mouse capture.
    pub mouse: bool,
    /// Render cap.
    pub fps: Option<u32>,
    /// Tail cap in entries per pool.
    pub tail_cap: Option<usize>,
    /// Tail cap in bytes.
    pub tail_cap_bytes: Option<usize>,
    /// Remote endpoints (pool servers, hive, AMP, RPC, groups) — used once those
    /// engines land.
    pub targets: Vec<toml::Value>,
    /// Key overrides: `"ctrl-s" = "form.send"`.
    pub keys: BTreeMap<String, String>,
}

const KNOWN: &[&str] = &[
    "pools_dir",
    "theme",
    "readonly",
    "mouse",
    "fps",
    "tail_cap",
    "tail_cap_bytes",
    "targets",
    "keys",
    // the hive server's table, read by `tidepool serve --hive`
    "hive",
];

/// The default config path: `<config dir>/tidepool/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tidepool").map(|d| d.config_dir().join("config.toml"))
}

/// The user config directory (holds `themes/`).
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tidepool").map(|d| d.config_dir().to_path_buf())
}

/// The data directory (holds `history.txt`).
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tidepool").map(|d| d.data_dir().to_path_buf())
}

impl Config {
    /// Parses config text; returns the config and one warning per unknown key.
    pub fn parse(text: &str, origin: &str) -> Result<(Config, Vec<String>), Error> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let warnings = table
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .map(|k| {
                format!(
                    "config {origin}: unknown key {k:?} (known: {})",
                    KNOWN.join(", ")
                )
            })
            .collect();
        let cfg: Config = toml::from_str(text).map_err(|e| Error::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        Ok((cfg, warnings))
    }

    /// Loads `path`, or the default path when `None`. A missing default file is an
    /// empty config; a missing explicit file is an error.
    pub fn load(path: Option<&Path>) -> Result<(Config, Vec<String>), Error> {
        let (p, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_path() {
                Some(p) => (p, false),
                None => return Ok((Config::default(), Vec::new())),
            },
        };
        match std::fs::read_to_string(&p) {
            Ok(text) => Config::parse(&text, &p.display().to_string()),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Config::default(), Vec::new()))
            }
            Err(source) => Err(Error::Read {
                path: p.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_config_parses() {
        let (c, w) = Config::parse(
            "theme = \"light\"\nreadonly = true\nfps = 20\n[keys]\n\"ctrl-x\" = \"form.send\"\n",
            "c.toml",
        )
        .expect("parses");
        assert!(w.is_empty());
        assert_eq!(c.theme.as_deref(), Some("light"));
        assert!(c.readonly);
        assert_eq!(c.fps, Some(20));
        assert_eq!(c.keys.get("ctrl-x").map(String::as_str), Some("form.send"));
    }

    #[test]
    fn unknown_keys_are_reported() {
        let (_, w) = Config::parse("them = \"dark\"\n", "c.toml").expect("parses");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"them\""));
    }

    #[test]
    fn bad_types_name_the_location() {
        let e = Config::parse("fps = \"fast\"\n", "c.toml").expect_err("bad type");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Config::load(Some(&dir.path().join("nope.toml"))).is_err());
    }
}
