//! JUnit XML of a run, the format CI systems (Jenkins, GitLab, GitHub annotations) read: one
//! `<testsuite>` per test, one `<testcase>` per expectation, a `<failure>` with expected, measured
//! and the reason when it did not hold.

use std::fmt::Write;

use super::svg::escape as xml;
use crate::run::RunResult;

pub fn render(r: &RunResult) -> String {
    document(&r.scenario, &[(None, r)])
}

/// A scenario's results on several kernels: each kernel's suites, named `KERNEL: TEST`.
pub fn render_kernels(results: &[(&str, &RunResult)]) -> String {
    let runs: Vec<(Option<&str>, &RunResult)> =
        results.iter().map(|(k, r)| (Some(*k), *r)).collect();
    let scenario = results.first().map_or("", |(_, r)| r.scenario.as_str());
    document(scenario, &runs)
}

fn document(scenario: &str, runs: &[(Option<&str>, &RunResult)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all = || runs.iter().flat_map(|(_, r)| &r.expectations);
    let failures = all().filter(|e| !e.passed).count();
    let _ = writeln!(
        out,
        "<testsuites name=\"mvlab {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        xml(scenario),
        all().count(),
        runs.iter().map(|(_, r)| r.duration_s).sum::<f64>()
    );
    let mut id = 0;
    for (kernel, r) in runs {
        suites(&mut out, &mut id, *kernel, r);
    }
    out.push_str("</testsuites>\n");
    out
}

/// The suites of one run (one per test), ids counted on from `id`.
fn suites(out: &mut String, id: &mut usize, kernel: Option<&str>, r: &RunResult) {
    let mut suites: Vec<&str> = Vec::new();
    for e in &r.expectations {
        if !suites.contains(&e.test.as_str()) {
            suites.push(&e.test);
        }
    }
    for suite in &suites {
        let cases: Vec<_> = r.expectations.iter().filter(|e| e.test == *suite).collect();
        let failed = cases.iter().filter(|e| !e.passed).count();
        let name = match kernel {
            Some(k) => format!("{k}: {suite}"),
            None => suite.to_string(),
        };
        let _ = writeln!(
            out,
            "  <testsuite id=\"{id}\" name=\"{}\" package=\"mvlab.{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"{}\" hostname=\"{}\">",
            xml(&name),
            xml(&r.scenario),
            cases.len(),
            xml(r.started.trim_end_matches('Z')),
            xml(&r.lab)
        );
        let _ = writeln!(
            out,
            "    <properties><property name=\"kernel\" value=\"{}\"/><property name=\"mvlab\" value=\"{}\"/></properties>",
            xml(&r.kernel),
            xml(&r.mvlab_version)
        );
        for e in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"mvlab.{}.{}\" name=\"{}\" time=\"0\"",
                xml(&r.scenario),
                xml(suite),
                xml(&e.text)
            );
            if e.passed {
                let _ = writeln!(out, "/>");
            } else {
                let _ = writeln!(out, ">");
                let _ = writeln!(
                    out,
                    "      <failure message=\"expected {}, measured {}\" type=\"expectation\">{}</failure>",
                    xml(&e.expected),
                    xml(&e.measured),
                    xml(&e.detail)
                );
                let _ = writeln!(out, "    </testcase>");
            }
        }
        let _ = writeln!(out, "    <system-out/>\n    <system-err/>\n  </testsuite>");
        *id += 1;
    }
}
