//! Entering and leaving the terminal (console spec section 8): raw mode, alternate
//! screen, bracketed paste, optional mouse capture; a panic hook installed before
//! raw mode restores the terminal first; suspend/resume for Ctrl-z.

use std::io::{self, Stdout};
use std::path::PathBuf;

use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The real terminal.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Installs the panic hook: restore the terminal, then print the panic and the log
/// path. Must run before [`enter`].
pub fn install_panic_hook(log_path: PathBuf) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore();
        previous(info);
        eprintln!(
            "tidepool: the console panicked; log: {}",
            log_path.display()
        );
    }));
}

/// Enters raw mode and the alternate screen.
pub fn enter(mouse: bool) -> io::Result<Term> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let mut t = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    t.clear()?;
    Ok(t)
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() -> io::Result<()> {
    let mut out = io::stdout();
    let r1 = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    );
    let r2 = disable_raw_mode();
    r1.and(r2)
}

/// Ctrl-z: restore the terminal, stop the process, and re-enter on resume.
pub fn suspend(mouse: bool) -> io::Result<Term> {
    restore()?;
    // SIGTSTP stops us like the shell expects; execution resumes here on SIGCONT
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP);
    enter(mouse)
}
