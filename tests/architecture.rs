//! The intended shape, checked: the use graph of `src/` (every `crate::` and `super::` path in
//! the code, comments left out) has no cycle between files, and the pure parts depend on
//! nothing that touches the OS: the model and the shared vocabulary never reach `lab`,
//! `engine`, `measure`, `netns`, `switch` or `run`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of every file under `src/` (`lab::plan`, `model`, ...), and its text without
/// comments.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(base).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                let code: String = std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\n");
                out.insert(parts.join("::"), code);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&src, &src, &mut out);
    out.remove("lib");
    out.remove("main");
    out
}

/// Which modules each module's code names.
fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, code) in modules {
        let parent: Vec<&str> = name.split("::").collect();
        let parent = &parent[..parent.len() - 1];
        let mut found = BTreeSet::new();
        for (i, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let rest = &code[i..];
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let (start, tail): (Vec<&str>, &[&str]) = match path[0] {
                "crate" => (Vec::new(), &path[1..]),
                _ => {
                    let supers = path.iter().take_while(|p| **p == "super").count();
                    let up = parent.len().saturating_sub(supers - 1);
                    (parent[..up].to_vec(), &path[supers..])
                }
            };
            let mut candidate = start.clone();
            candidate.extend_from_slice(tail);
            let target = (1..=candidate.len())
                .rev()
                .map(|k| candidate[..k].join("::"))
                .find(|m| modules.contains_key(m));
            if let Some(t) = target
                && &t != name
            {
                found.insert(t);
            }
        }
        edges.insert(name.clone(), found);
    }
    edges
}

#[test]
fn no_two_files_depend_on_each_other_through_any_path() {
    let modules = modules();
    assert!(modules.len() > 50, "the walk found the sources");
    let edges = graph(&modules);
    // Every module that can reach itself again is in a cycle.
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = edges[from].iter().cloned().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(edges.get(&m).into_iter().flatten().cloned());
            }
        }
        seen
    };
    let cyclic: Vec<&String> = modules.keys().filter(|m| reaches(m).contains(*m)).collect();
    assert!(cyclic.is_empty(), "modules in an import cycle: {cyclic:?}");
}

#[test]
fn the_model_and_the_vocabulary_touch_nothing_of_the_os() {
    let modules = modules();
    let edges = graph(&modules);
    let impure = [
        "lab", "engine", "measure", "netns", "switch", "run", "guest", "kernels",
    ];
    for (name, targets) in &edges {
        let top_of = name.split("::").next().unwrap();
        let pure = [
            "model",
            "scenario",
            "delivery",
            "conclusions",
            "addr",
            "diag",
            "units",
        ]
        .contains(&top_of);
        if !pure {
            continue;
        }
        for t in targets {
            let top = t.split("::").next().unwrap();
            assert!(!impure.contains(&top), "{name} depends on {t}");
        }
    }
}

/// Only `cli::output` writes to the process's standard streams: `print!`, `println!`,
/// `eprint!` and `eprintln!` panic when a stream is closed (`| head`) or full (`> /dev/full`),
/// and that writer is where a closed pipe ends quietly and a full disk is an error.
#[test]
fn only_the_cli_writer_prints() {
    let modules = modules();
    let mut printing = Vec::new();
    for (name, code) in &modules {
        if name == "cli::output" {
            continue;
        }
        for mac in ["print!(", "println!(", "eprint!(", "eprintln!("] {
            let found = code.match_indices(mac).any(|(i, _)| {
                !code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            });
            if found {
                printing.push(format!("{name}: {mac}"));
            }
        }
    }
    assert!(
        printing.is_empty(),
        "printing outside cli::output: {printing:?}"
    );
}
