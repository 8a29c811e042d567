//! What a first-time user sees, on real labs (as root; fails without it): the default run's
//! terminal output fits one screen and opens with conclusions; each sentence agrees with the
//! cells the same run measured (recounted here from the JSON); and a lab built differently (a
//! hairpinning port) yields different sentences. `--detail` brings the per-class grids back.

mod lab_support;

use lab_support::{mvlab, require_root, scenario_path, scratch_dir, unique};
use mvlab::conclusions::{Conclusion, GroupKind, Tone};
use mvlab::delivery::{Addressing, Cell, FrameClass, MatrixResult};
use mvlab::measure::TestResult;
use mvlab::run::RunResult;

/// At most this many lines: one screen.
const SCREEN: usize = 60;

/// `mvlab run ARGS --json FILE` as a user runs it (output not a terminal, NO_COLOR unset):
/// the terminal text and the result.
fn run(args: &[&str], tag: &str) -> (String, RunResult) {
    let dir = scratch_dir(tag);
    let json = dir.join("r.json");
    let out = mvlab()
        .arg("run")
        .args(args)
        .args(["--name", &unique(tag)])
        .arg("--json")
        .arg(&json)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (stdout, result)
}

fn matrix(r: &RunResult) -> &MatrixResult {
    r.tests
        .iter()
        .find_map(|t| match t {
            TestResult::Matrix(m) => Some(m),
            _ => None,
        })
        .expect("a matrix test")
}

/// Of the non-promiscuous cells from `from` to `to` of `class`, how many delivered.
fn delivered(
    m: &MatrixResult,
    from: &[String],
    to: &[String],
    class: Addressing,
) -> (usize, usize) {
    let cells: Vec<&Cell> = m
        .cells
        .iter()
        .filter(|c| {
            !c.promiscuous
                && c.class == FrameClass::untagged(class)
                && c.from != c.to
                && from.contains(&c.from)
                && to.contains(&c.to)
        })
        .collect();
    (cells.iter().filter(|c| c.received > 0).count(), cells.len())
}

fn said<'a>(r: &'a RunResult, network: &str, needle: &str) -> Option<&'a Conclusion> {
    r.summary[0]
        .conclusions
        .iter()
        .find(|c| c.networks.iter().any(|n| n == network) && c.text.contains(needle))
}

/// Every network's sibling and host sentences, recounted from the cells.
fn sentences_match_the_cells(r: &RunResult) {
    let m = matrix(r);
    let summary = &r.summary[0];
    for group in &summary.hearing.groups {
        let GroupKind::Network { parent, .. } = &group.kind else {
            continue;
        };
        let own = &group.stations;
        let (uni, pairs) = delivered(m, own, own, Addressing::Unicast);
        let (bc, _) = delivered(m, own, own, Addressing::Broadcast);
        if pairs > 0 {
            let siblings = summary
                .conclusions
                .iter()
                .find(|c| {
                    c.networks == [group.name.clone()]
                        && ["reach each other", "are isolated", "raw unicast"]
                            .iter()
                            .any(|n| c.text.contains(n))
                        && !c.text.contains("packet socket")
                })
                .unwrap_or_else(|| panic!("no sibling sentence for {}", group.name));
            match (uni == pairs, bc == pairs, uni == 0, bc == 0) {
                (true, true, _, _) => assert_eq!(siblings.tone, Tone::Reaches, "{siblings:?}"),
                (_, _, true, true) => assert_eq!(siblings.tone, Tone::Blocked, "{siblings:?}"),
                (true, _, _, true) => {
                    assert!(siblings.text.contains("raw unicast"), "{siblings:?}")
                }
                _ => assert!(siblings.text.contains("only in part"), "{siblings:?}"),
            }
        }
        let host = vec![format!("host:{parent}")];
        let (heard, tried) = delivered(m, own, &host, Addressing::Unicast);
        if tried > 0 && heard == 0 {
            assert!(
                said(r, &group.name, "the host cannot reach").is_some(),
                "{}: none of its containers reached {parent}, and no sentence says so",
                group.name
            );
        }
        if tried > 0 && heard == tried {
            assert!(
                said(r, &group.name, "the host hears").is_some(),
                "{}",
                group.name
            );
        }
    }
}

#[test]
fn the_default_run_fits_a_screen_and_says_what_its_matrix_shows() {
    require_root();
    let (text, r) = run(&[], "ux-default");
    let lines = text.lines().count();
    assert!(
        lines <= SCREEN,
        "{lines} lines, more than a screen:\n{text}"
    );
    // Conclusions first, the verdict last, no per-class grid.
    let first_sentence = text.find("reach each other").expect(&text);
    let grid = text.find("who hears whom").expect(&text);
    let verdict = text.find("PASSED").expect(&text);
    assert!(first_sentence < grid && grid < verdict, "{text}");
    assert!(!text.contains("unicast, not promiscuous"), "{text}");
    assert!(!text.contains('\x1b'), "no colour off a terminal: {text}");
    for needle in [
        "br1 and br2 reach each other",
        "ve1 and ve2 do not reach each other",
        "need a hairpinning switch port",
        "the host cannot reach",
        "shim",
        "pt1 takes eth3's MAC",
        "so1 and so2 hear only peer",
        "turn promiscuous on their own",
    ] {
        assert!(text.contains(needle), "`{needle}` missing:\n{text}");
    }
    sentences_match_the_cells(&r);
    let (detail, _) = run(&["--detail"], "ux-detail");
    assert!(detail.contains("unicast, not promiscuous"), "{detail}");
    assert!(detail.lines().count() > SCREEN);
}

#[test]
fn a_hairpinning_port_changes_the_sentences() {
    require_root();
    let vepa = scenario_path("vepa");
    let hairpin = scenario_path("vepa-hairpin");
    let (plain_text, plain) = run(&[vepa.to_str().unwrap()], "ux-vepa");
    let (hairpin_text, hairpinned) = run(&[hairpin.to_str().unwrap()], "ux-hairpin");
    sentences_match_the_cells(&plain);
    sentences_match_the_cells(&hairpinned);
    let network = &plain.summary[0].hearing.groups[0].name;
    let before = said(&plain, network, "do not reach each other").expect(&plain_text);
    assert_eq!(before.tone, Tone::Blocked);
    assert!(before.text.contains("need a hairpinning"), "{plain_text}");
    let network = &hairpinned.summary[0].hearing.groups[0].name;
    let after = said(&hairpinned, network, "reach each other").expect(&hairpin_text);
    assert_eq!(after.tone, Tone::Reaches, "{hairpin_text}");
    assert!(
        after.text.contains("hairpinning switch port"),
        "{hairpin_text}"
    );
    assert!(
        said(&hairpinned, network, "do not reach").is_none(),
        "{hairpin_text}"
    );
}
