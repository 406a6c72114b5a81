//! Everything the console parses from text it does not control: engine strings
//! (sanitiser), the command line, filters, key names, deposit-form fields (slaw
//! YAML), theme and config files. None may panic; sanitised text has no controls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidepool::tui::{command, config, filter, form, keymap, text, theme};

fuzz_target!(|data: &[u8]| {
    let clean = text::sanitize_bytes(data);
    assert!(!clean.chars().any(|c| c.is_control()));
    let s = String::from_utf8_lossy(data);
    let _ = text::truncate(&s, 17);
    let _ = command::parse(&s);
    let _ = command::complete(&s, &["demo".to_string()]);
    let f = filter::Filter::parse(&s);
    let _ = f.matches(&[s.to_lowercase()]);
    let _ = keymap::Chord::parse(&s);
    let mut fm = form::Form::deposit("demo");
    let mut parts = s.splitn(3, '\n');
    for i in 1..=3 {
        if let Some(p) = parts.next() {
            fm.fields[i].input = tui_input::Input::new(p.to_string());
        }
    }
    let _ = fm.check();
    let _ = theme::Theme::from_toml(&s, "fuzz.toml", None);
    let _ = config::Config::parse(&s, "fuzz.toml");
});
