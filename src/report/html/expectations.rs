//! The expectations section: every expectation of the run, failures first, with what was expected
//! and what was measured.

use std::fmt::Write;

use super::markup::esc;
use crate::verdict::ExpectationResult;

pub(super) fn expectations(out: &mut String, list: &[ExpectationResult]) {
    out.push_str("<section id=\"expectations\"><h2>Expectations</h2>");
    if list.is_empty() {
        out.push_str("<p class=\"note\">The scenario states no expectations.</p></section>");
        return;
    }
    let mut sorted: Vec<&ExpectationResult> = list.iter().collect();
    sorted.sort_by_key(|e| e.passed);
    out.push_str("<table><thead><tr><th>result</th><th>test</th><th>expectation</th><th>expected</th><th>measured</th><th>detail</th></tr></thead><tbody>");
    for e in sorted {
        let (row, mark) = if e.passed {
            ("", "<span class=\"ok\">pass</span>")
        } else {
            (" class=\"failed\"", "<span class=\"bad\">FAIL</span>")
        };
        let detail = if e.detail.contains('\n') {
            format!("<pre>{}</pre>", esc(&e.detail))
        } else {
            esc(&e.detail)
        };
        let _ = write!(
            out,
            "<tr{row} data-passed=\"{}\"><td>{mark}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{detail}</td></tr>",
            e.passed,
            esc(&e.test),
            esc(&e.text),
            esc(&e.expected),
            esc(&e.measured)
        );
    }
    out.push_str("</tbody></table></section>");
}
