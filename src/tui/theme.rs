//! Themes: styles assigned to semantic roles (console spec section 7).
//!
//! The four presets in `themes/` are embedded with `include_str!`, so an installed
//! binary needs no files. A user file may `extends = "dark"` and set only some roles;
//! everything it leaves out is inherited. Unknown roles are reported as warnings;
//! a bad colour is an error naming the file, line and column (toml's own location).

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// Names of the embedded presets, in the order `:theme` completion offers them.
pub const BUILTIN: [&str; 4] = ["dark", "light", "high-contrast", "mono"];

fn builtin_source(name: &str) -> Option<&'static str> {
    match name {
        "dark" => Some(include_str!("../../themes/dark.toml")),
        "light" => Some(include_str!("../../themes/light.toml")),
        "high-contrast" => Some(include_str!("../../themes/high-contrast.toml")),
        "mono" => Some(include_str!("../../themes/mono.toml")),
        _ => None,
    }
}

/// Errors while loading a theme.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not valid theme TOML (bad colour, bad modifier, syntax error).
    #[error("theme {origin}: {message}")]
    Parse {
        /// File path or built-in name.
        origin: String,
        /// toml's message, including line and column.
        message: String,
    },
    /// The theme file could not be read.
    #[error("theme file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// No built-in, user theme or file of that name.
    #[error("unknown theme {0:?} (built-in: dark, light, high-contrast, mono)")]
    Unknown(String),
    /// `extends` chains loop or go too deep.
    #[error("theme {0:?}: extends chain too deep")]
    ExtendsLoop(String),
}

macro_rules! roles {
    ($($role:ident),* $(,)?) => {
        /// One style per semantic role. Widgets ask for a role, never for a colour.
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct Roles {
            $(
                #[allow(missing_docs)]
                pub $role: Style,
            )*
        }

        impl Roles {
            /// Every role name, as written in theme files.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($role)),*];

            fn slot(&mut self, name: &str) -> Option<&mut Style> {
                match name {
                    $(stringify!($role) => Some(&mut self.$role),)*
                    _ => None,
                }
            }

            /// The style of a role by name (used by tests and the SVG legend).
            pub fn get(&self, name: &str) -> Option<Style> {
                match name {
                    $(stringify!($role) => Some(self.$role),)*
                    _ => None,
                }
            }
        }
    };
}

roles!(
    base,
    muted,
    title,
    border,
    border_focused,
    selection,
    tab_active,
    tab_inactive,
    key_hint,
    input,
    ok,
    warn,
    error,
    info,
    paused,
    readonly,
    spark,
    badge_up,
    badge_retry,
    badge_down,
    badge_off,
    badge_local,
    cause_join,
    cause_leave,
    cause_disconnect,
    cause_network,
    cause_transition,
    cause_self_leave,
    yaml_key,
    yaml_tag,
    yaml_string,
    yaml_number,
);

/// A loaded theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    /// Styles per role.
    pub roles: Roles,
    /// The 16 ANSI colours as RGB, used when rendering screenshots.
    pub ansi: [(u8, u8, u8); 16],
    /// Warnings found while loading (unknown roles); logged by the caller.
    pub warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    extends: Option<String>,
    #[serde(default)]
    palette: Option<PaletteSpec>,
    #[serde(default)]
    roles: BTreeMap<String, StyleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaletteSpec {
    ansi: Vec<ColorSpec>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<ColorSpec>,
    bg: Option<ColorSpec>,
    #[serde(default)]
    modifiers: Vec<ModifierSpec>,
}

#[derive(Debug, Clone, Copy)]
struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Index(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Index(i) => u8::try_from(i)
                .map(|i| ColorSpec(Color::Indexed(i)))
                .map_err(|_| serde::de::Error::custom(format!("colour index {i} is not 0-255"))),
            Raw::Text(s) => parse_color(&s)
                .map(ColorSpec)
                .ok_or_else(|| serde::de::Error::custom(format!("bad colour {s:?}"))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ModifierSpec(Modifier);

impl<'de> Deserialize<'de> for ModifierSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let m = match s.as_str() {
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underlined" | "underline" => Modifier::UNDERLINED,
            "reversed" | "reverse" => Modifier::REVERSED,
            "crossed_out" => Modifier::CROSSED_OUT,
            "hidden" => Modifier::HIDDEN,
            _ => return Err(serde::de::Error::custom(format!("bad modifier {s:?}"))),
        };
        Ok(ModifierSpec(m))
    }
}

/// Parses an ANSI colour name, `#rrggbb` or a 0-255 index written as text.
pub fn parse_color(s: &str) -> Option<Color> {
    let lower = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let named = match lower.as_str() {
        "default" | "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "white" | "gray" | "grey" => Color::Gray,
        "brightblack" | "darkgray" | "darkgrey" => Color::DarkGray,
        "brightred" => Color::LightRed,
        "brightgreen" => Color::LightGreen,
        "brightyellow" => Color::LightYellow,
        "brightblue" => Color::LightBlue,
        "brightmagenta" => Color::LightMagenta,
        "brightcyan" => Color::LightCyan,
        "brightwhite" => Color::White,
        _ => {
            if let Some(hex) = s.strip_prefix('#') {
                if hex.len() != 6 || !hex.is_ascii() {
                    return None;
                }
                let v = u32::from_str_radix(hex, 16).ok()?;
                return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
            }
            return s.parse::<u8>().ok().map(Color::Indexed);
        }
    };
    Some(named)
}

impl StyleSpec {
    fn to_style(&self) -> Style {
        let mut st = Style::default();
        if let Some(c) = self.fg {
            st = st.fg(c.0);
        }
        if let Some(c) = self.bg {
            st = st.bg(c.0);
        }
        for m in &self.modifiers {
            st = st.add_modifier(m.0);
        }
        st
    }
}

impl Theme {
    /// The default theme (dark).
    pub fn dark() -> Theme {
        // The embedded presets are checked by the `every_builtin_loads` test.
        Theme::builtin("dark").unwrap_or_else(|_| Theme::empty("dark"))
    }

    /// The monochrome theme.
    pub fn mono() -> Theme {
        Theme::builtin("mono").unwrap_or_else(|_| Theme::empty("mono"))
    }

    fn empty(name: &str) -> Theme {
        Theme {
            name: name.to_string(),
            roles: Roles::default(),
            ansi: XTERM16,
            warnings: Vec::new(),
        }
    }

    /// Loads an embedded preset.
    pub fn builtin(name: &str) -> Result<Theme, Error> {
        let src = builtin_source(name).ok_or_else(|| Error::Unknown(name.to_string()))?;
        Theme::from_toml(src, name, None)
    }

    /// Resolves `--theme NAME|PATH`: a file path if it names an existing file, else a
    /// user theme `themes/NAME.toml` under `user_dir`, else a built-in.
    pub fn load(spec: &str, user_dir: Option<&Path>) -> Result<Theme, Error> {
        let as_path = Path::new(spec);
        if spec.ends_with(".toml") || as_path.components().count() > 1 {
            return Theme::from_file(as_path, user_dir);
        }
        if let Some(dir) = user_dir {
            let p = dir.join("themes").join(format!("{spec}.toml"));
            if p.is_file() {
                return Theme::from_file(&p, user_dir);
            }
        }
        Theme::builtin(spec)
    }

    fn from_file(path: &Path, user_dir: Option<&Path>) -> Result<Theme, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Theme::from_toml(&text, &path.display().to_string(), user_dir)
    }

    /// Parses theme TOML. `origin` names the source in errors. Missing roles inherit
    /// from `extends` (default `dark`; presets other than dark inherit nothing).
    pub fn from_toml(text: &str, origin: &str, user_dir: Option<&Path>) -> Result<Theme, Error> {
        Theme::from_toml_depth(text, origin, user_dir, 0)
    }

    fn from_toml_depth(
        text: &str,
        origin: &str,
        user_dir: Option<&Path>,
        depth: usize,
    ) -> Result<Theme, Error> {
        if depth > 4 {
            return Err(Error::ExtendsLoop(origin.to_string()));
        }
        let file: File = toml::from_str(text).map_err(|e| Error::Parse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let is_builtin = builtin_source(origin).is_some();
        let mut theme = match (&file.extends, is_builtin) {
            (Some(parent), _) => {
                let src = match user_dir
                    .map(|d| d.join("themes").join(format!("{parent}.toml")))
                    .filter(|p| p.is_file())
                {
                    Some(p) => std::fs::read_to_string(&p).map_err(|source| Error::Read {
                        path: p.display().to_string(),
                        source,
                    })?,
                    None => builtin_source(parent)
                        .ok_or_else(|| Error::Unknown(parent.clone()))?
                        .to_string(),
                };
                Theme::from_toml_depth(&src, parent, user_dir, depth + 1)?
            }
            (None, true) => Theme::empty(origin),
            (None, false) => Theme::dark(),
        };
        theme.name = file.name.unwrap_or_else(|| origin.to_string());
        if let Some(p) = file.palette {
            for (slot, c) in theme.ansi.iter_mut().zip(p.ansi.iter()) {
                if let Color::Rgb(r, g, b) = c.0 {
                    *slot = (r, g, b);
                }
            }
        }
        for (name, spec) in &file.roles {
            match theme.roles.slot(name) {
                Some(slot) => *slot = spec.to_style(),
                None => theme
                    .warnings
                    .push(format!("theme {origin}: unknown role {name:?} ignored")),
            }
        }
        Ok(theme)
    }

    /// Whether any role uses a colour (false for mono).
    pub fn has_color(&self) -> bool {
        Roles::NAMES.iter().any(|n| {
            self.roles
                .get(n)
                .is_some_and(|s| s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some())
        })
    }
}

/// The xterm defaults for the 16 ANSI colours.
pub const XTERM16: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_and_defines_every_role() {
        for name in BUILTIN {
            let src = builtin_source(name).expect("embedded");
            let file: File = toml::from_str(src).expect("parses");
            for role in Roles::NAMES {
                assert!(file.roles.contains_key(*role), "{name} lacks role {role}");
            }
            let t = Theme::builtin(name).expect("loads");
            assert!(t.warnings.is_empty(), "{name}: {:?}", t.warnings);
        }
    }

    #[test]
    fn mono_contains_no_colour() {
        assert!(!Theme::mono().has_color());
        assert!(Theme::dark().has_color());
    }

    #[test]
    fn high_contrast_uses_only_base_colours_and_no_dim() {
        let t = Theme::builtin("high-contrast").expect("loads");
        for n in Roles::NAMES {
            let s = t.roles.get(n).expect("role");
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "{n}: {c:?}"
                );
            }
            assert!(!s.add_modifier.contains(Modifier::DIM), "{n} is dim");
        }
    }

    #[test]
    fn user_theme_overrides_only_what_it_sets() {
        let t = Theme::from_toml(
            "extends = \"dark\"\n[roles]\nselection = { fg = \"red\" }\nbogus = {}\n",
            "mine.toml",
            None,
        )
        .expect("loads");
        let dark = Theme::dark();
        assert_eq!(t.roles.selection, Style::default().fg(Color::Red));
        assert_eq!(t.roles.base, dark.roles.base);
        assert_eq!(t.warnings.len(), 1);
        assert!(t.warnings[0].contains("bogus"));
    }

    #[test]
    fn bad_colour_names_line_and_column() {
        let err = Theme::from_toml("[roles]\nbase = { fg = \"#12\" }\n", "x.toml", None)
            .expect_err("bad colour");
        let msg = err.to_string();
        assert!(msg.contains("x.toml"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("column"), "{msg}");
    }

    #[test]
    fn colours_parse_in_all_forms() {
        assert_eq!(parse_color("cyan"), Some(Color::Cyan));
        assert_eq!(parse_color("#0a0B0c"), Some(Color::Rgb(10, 11, 12)));
        assert_eq!(parse_color("200"), Some(Color::Indexed(200)));
        assert_eq!(parse_color("#zzzzzz"), None);
        assert_eq!(parse_color("256"), None);
    }
}
