//! The tail's descrip filter (console spec section 3.2): space-separated terms that
//! must all match. `word` = some descrip contains it (case-insensitive), `=word` =
//! some descrip equals it, `!word` = no descrip contains it.

/// One term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Some descrip contains the text.
    Contains(String),
    /// Some descrip equals the text.
    Equals(String),
    /// No descrip contains the text.
    Excludes(String),
}

/// A parsed filter; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The text as typed.
    pub text: String,
    terms: Vec<Term>,
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(text: &str) -> Filter {
        let terms = text
            .split_whitespace()
            .filter_map(|t| {
                if let Some(w) = t.strip_prefix('=') {
                    (!w.is_empty()).then(|| Term::Equals(w.to_lowercase()))
                } else if let Some(w) = t.strip_prefix('!') {
                    (!w.is_empty()).then(|| Term::Excludes(w.to_lowercase()))
                } else {
                    Some(Term::Contains(t.to_lowercase()))
                }
            })
            .collect();
        Filter {
            text: text.trim().to_string(),
            terms,
        }
    }

    /// Whether the filter has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Matches lower-cased descrips.
    pub fn matches(&self, descrips_lower: &[String]) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Contains(w) => descrips_lower.iter().any(|d| d.contains(w.as_str())),
            Term::Equals(w) => descrips_lower.iter().any(|d| d == w),
            Term::Excludes(w) => !descrips_lower.iter().any(|d| d.contains(w.as_str())),
        })
    }

    /// Matches one line of text (log and name filters): all terms, case-insensitive.
    pub fn matches_text(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.matches(std::slice::from_ref(&lower))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_lowercase()).collect()
    }

    #[test]
    fn terms_combine() {
        let f = Filter::parse("arf !debug");
        assert!(f.matches(&d(&["ARF", "airports"])));
        assert!(!f.matches(&d(&["arf", "debug-info"])));
        assert!(!f.matches(&d(&["airports"])));
        let eq = Filter::parse("=arf");
        assert!(eq.matches(&d(&["arf"])));
        assert!(!eq.matches(&d(&["arfs"])));
        assert!(Filter::parse("  ").is_empty());
        assert!(Filter::parse("! =").is_empty());
    }
}
