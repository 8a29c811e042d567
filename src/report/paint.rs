//! How terminal text is styled and aligned: colour (pass, fail, warning, dim) only when asked, on
//! a terminal with NO_COLOR unset, and padding that measures text as shown, escape codes left
//! out. Shared by every terminal renderer; says nothing about what is shown.

/// Paints pass/fail when colour is on.
#[derive(Debug, Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    pub fn for_stdout() -> Paint {
        use std::io::IsTerminal;
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn ok(self, s: &str) -> String {
        self.wrap("32", s)
    }

    pub fn bad(self, s: &str) -> String {
        self.wrap("1;31", s)
    }

    pub fn warn(self, s: &str) -> String {
        self.wrap("33", s)
    }

    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Width of a string as displayed (escape codes excluded).
fn shown_width(s: &str) -> usize {
    let mut w = 0;
    let mut escape = false;
    for ch in s.chars() {
        match (escape, ch) {
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, '\x1b') => escape = true,
            (false, _) => w += 1,
        }
    }
    w
}

pub fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(shown_width(s))))
}
