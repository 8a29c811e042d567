//! Diagnostics and exit codes. Owns how a problem in a scenario file is shown to a person
//! (`file:line:col`, whether it is an error or only a warning, the offending line, a caret under
//! the span, a hint) and as data (`check --json`), and the mapping from
//! error kinds to process exit codes. What it shows of a file is made safe to print: a long
//! line is cut to a window around the caret, and control characters (a terminal's escape
//! sequences among them) are shown as `?`. It decides nothing about *what* is wrong: the scenario,
//! lab and measure modules build `Diagnostic`s and `Error`s; the CLI prints them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A byte range into a `Source`'s text.
pub type Span = Range<usize>;

/// The text of one input file, kept so that later stages (lab build, run) can still point into it.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Source> {
        Arc::new(Source {
            path: path.into(),
            text: text.into(),
        })
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line - 1).unwrap_or("")
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How bad a problem is: an error refuses the input; a warning lets it through, since it is
/// valid, but says what was probably not meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, located in a file when it can be, with a hint that says how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub source: Option<Arc<Source>>,
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn at(source: &Arc<Source>, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            source: Some(source.clone()),
            span: Some(span),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with a whole file (or with no file at all), not a place in it.
    pub fn whole(source: Option<&Arc<Source>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            source: source.cloned(),
            span: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The same problem as a warning.
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    /// `(path, line, column)` of the start of the span, when there is one.
    pub fn location(&self) -> Option<(&Path, usize, usize)> {
        let source = self.source.as_ref()?;
        let (line, col) = source.line_col(self.span.as_ref()?.start);
        Some((&source.path, line, col))
    }
}

/// Most characters of a source line shown under a diagnostic; a longer line is cut to a window
/// around the caret.
const SHOWN_LINE_MAX: usize = 120;

/// `line` cut to at most `SHOWN_LINE_MAX` characters around the 0-based character `at`
/// (`…` marks what was cut), and where `at` is in the cut line.
fn window(line: &str, at: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SHOWN_LINE_MAX {
        return (line.to_string(), at);
    }
    let start = at
        .saturating_sub(SHOWN_LINE_MAX / 2)
        .min(chars.len() - SHOWN_LINE_MAX);
    let end = start + SHOWN_LINE_MAX;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, at - start + usize::from(start > 0))
}

/// `text` with every control character but the newline shown as `?` (one character for one, so
/// a caret under a line still lines up).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

impl Diagnostic {
    fn render(&self) -> Result<String, fmt::Error> {
        use fmt::Write;
        let mut f = String::new();
        match (&self.source, self.location()) {
            (Some(source), Some((path, line, col))) => {
                writeln!(
                    f,
                    "{}:{line}:{col}: {}: {}",
                    path.display(),
                    self.severity,
                    self.message
                )?;
                let span = self.span.as_ref().expect("located diagnostics have a span");
                let (end_line, end_col) = source.line_col(span.end);
                let (text, at) = window(source.line_text(line), col - 1);
                let room = text.chars().count().saturating_sub(at).max(1);
                let width = if end_line == line && end_col > col {
                    (end_col - col).min(room)
                } else {
                    1
                };
                let gutter = " ".repeat(line.to_string().len());
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{line} | {text}")?;
                write!(f, "{gutter} | {}{}", " ".repeat(at), "^".repeat(width))?;
            }
            (Some(source), None) => {
                let path = source.path.display();
                write!(f, "{path}: {}: {}", self.severity, self.message)?;
            }
            (None, _) => write!(f, "{}: {}", self.severity, self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(printable(&f))
    }
}

/// As data (`check --json`): severity, file, 1-based line and column (null when the problem
/// has no place in a file), message and hint.
impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let location = self.location();
        let mut d = serializer.serialize_struct("Diagnostic", 6)?;
        d.serialize_field("severity", &self.severity)?;
        d.serialize_field(
            "file",
            &self.source.as_ref().map(|s| s.path.display().to_string()),
        )?;
        d.serialize_field("line", &location.map(|(_, line, _)| line))?;
        d.serialize_field("column", &location.map(|(_, _, col)| col))?;
        d.serialize_field("message", &self.message)?;
        d.serialize_field("hint", &self.hint)?;
        d.end()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render()?)
    }
}

/// Several problems found in one pass, so a user fixes them all at once.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was reported, the collected problems otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The command line this process was started with, as root would type it: `sudo mvlab run
/// x.toml`, each word quoted for a POSIX shell where it needs it. What a refusal for want of
/// privileges tells the user to run.
pub fn sudo_line() -> String {
    let quote = |w: String| {
        let plain = !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c));
        if plain {
            w
        } else {
            format!("'{}'", w.replace('\'', "'\\''"))
        }
    };
    std::iter::once("sudo".to_string())
        .chain(std::env::args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a command's failure means to the caller; each maps to one exit code (see `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and every expectation held.
    Passed,
    /// The run completed but an expectation failed.
    ExpectationFailed,
    /// The input was wrong (scenario, flags, permissions): nothing was created.
    BadInput,
    /// The kernel lacks a feature the input needs: nothing was created.
    MissingFeature,
    /// The kernel or the system refused something mid-way; what was created has been removed.
    RuntimeFailure,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::ExpectationFailed => 1,
            Outcome::BadInput => 2,
            Outcome::MissingFeature => 3,
            Outcome::RuntimeFailure => 4,
        }
    }

    /// The outcome an exit code stands for (another mvlab's, a guest's); codes mvlab never
    /// uses count as a run that could not complete.
    pub fn from_code(code: u8) -> Outcome {
        match code {
            0 => Outcome::Passed,
            1 => Outcome::ExpectationFailed,
            2 => Outcome::BadInput,
            3 => Outcome::MissingFeature,
            _ => Outcome::RuntimeFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let s = Source::new("x.toml", "a = 1\nnamé = \"é2\"\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        let quote = s.text.find('"').unwrap();
        assert_eq!(s.line_col(quote), (2, 8));
        assert_eq!(s.line_col(10_000), (3, 1));
    }

    #[test]
    fn rendering_shows_location_line_caret_and_hint() {
        let s = Source::new("lab.toml", "[net]\nvlan = 5000\n");
        let start = s.text.find("5000").unwrap();
        let d = Diagnostic::at(&s, start..start + 4, "VLAN id 5000 is outside 1..4094")
            .hint("use an id from 1 to 4094");
        let text = d.to_string();
        assert_eq!(
            text,
            "lab.toml:2:8: error: VLAN id 5000 is outside 1..4094\n  |\n2 | vlan = 5000\n  |        ^^^^\n  hint: use an id from 1 to 4094"
        );
    }

    #[test]
    fn a_long_line_is_shown_around_the_caret() {
        let line = format!("a = {}5{}", "[".repeat(20_000), "]".repeat(20_000));
        let s = Source::new("deep.toml", line.clone());
        let at = line.find('5').unwrap();
        let text = Diagnostic::at(&s, at..at + 1, "too deep").to_string();
        assert!(text.len() < 600, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines[2].split_once(" | ").unwrap().1;
        let caret = lines[3].split_once(" | ").unwrap().1;
        assert_eq!(shown.chars().nth(caret.find('^').unwrap()), Some('5'));
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let start = Source::new("s.toml", format!("x{}", "y".repeat(500)));
        let text = Diagnostic::at(&start, 0..501, "long").to_string();
        assert!(
            text.contains("1 | xyyy") && text.contains("| ^^^"),
            "{text}"
        );
    }

    #[test]
    fn control_characters_are_not_echoed() {
        let s = Source::new("e\u{1b}.toml", "name = \"\u{1b}[2J\u{7}\"\n");
        let text = Diagnostic::at(&s, 7..15, "bad \u{1b}[31mname")
            .hint("x\u{0}y")
            .to_string();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("name = \"?[2J?\""), "{text}");
    }

    #[test]
    fn a_warning_says_so_and_serialises_its_place() {
        let s = Source::new("w.toml", "# nothing\n");
        let d = Diagnostic::at(&s, 0..0, "no settings")
            .hint("write some")
            .warning();
        assert_eq!(
            d.to_string(),
            "w.toml:1:1: warning: no settings\n  |\n1 | # nothing\n  | ^\n  hint: write some"
        );
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"severity": "warning", "file": "w.toml", "line": 1, "column": 1,
                "message": "no settings", "hint": "write some"})
        );
        let unlocated = serde_json::to_value(Diagnostic::whole(None, "x")).unwrap();
        assert_eq!(unlocated["line"], serde_json::Value::Null);
        assert_eq!(unlocated["severity"], "error");
    }

    #[test]
    fn whole_file_and_unlocated_messages() {
        let s = Source::new("a.toml", "");
        assert_eq!(
            Diagnostic::whole(Some(&s), "empty").to_string(),
            "a.toml: error: empty"
        );
        assert_eq!(
            Diagnostic::whole(None, "no root").to_string(),
            "error: no root"
        );
    }
}
