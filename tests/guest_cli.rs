//! `mvlab run --kernel`, `doctor --kernel` and `diff` for real: a scenario on this kernel and on
//! Debian's 6.1 booted under qemu (from the cache `scripts/kernels` fills; MVLAB_TEST_KERNEL
//! names another image), one report of both, and `diff` over results. Needs root and a guest
//! kernel: without either it fails, it never skips.

mod lab_support;

use std::path::PathBuf;

use lab_support::{mvlab, require_root, run, scenario_path, scratch_dir};
use serde_json::Value;

/// The guest kernel image these tests boot.
fn guest_kernel() -> String {
    if let Ok(k) = std::env::var("MVLAB_TEST_KERNEL") {
        return k;
    }
    let cache = mvlab::guest::kernel_cache();
    let found = std::fs::read_dir(&cache).ok().and_then(|entries| {
        let mut images: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("linux-image-6.1.0-"))
            })
            .filter_map(|dir| {
                let release = dir
                    .file_name()?
                    .to_str()?
                    .strip_prefix("linux-image-")?
                    .to_string();
                let image = dir.join(format!("boot/vmlinuz-{release}"));
                image.is_file().then_some(image)
            })
            .collect();
        images.sort();
        images.pop()
    });
    found
        .unwrap_or_else(|| {
            panic!(
                "no Debian 6.1 kernel in {}: run `sudo scripts/kernels` (scripts/test does)",
                cache.display()
            )
        })
        .display()
        .to_string()
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_scenario_on_this_kernel_and_a_guest_gives_one_report_and_diff_agrees() {
    require_root();
    let kernel = guest_kernel();
    let dir = scratch_dir("guestrun");
    let out = run(mvlab()
        .arg("run")
        .arg(scenario_path("vepa"))
        .args(["--kernel", "this", "--kernel", &kernel, "--json"])
        .arg(dir.join("both.json"))
        .arg("--report")
        .arg(dir.join("html"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .env("NO_COLOR", "1"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let both = json(&dir.join("both.json"));
    let runs = both["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["source"], "this");
    let release = runs[1]["kernel"].as_str().unwrap();
    assert!(release.starts_with("6.1.0-"), "{release}");
    assert_eq!(
        runs[1]["result"]["kernel"], release,
        "the result comes from inside the guest"
    );
    assert!(runs[1]["accel"].is_string() && runs[1]["boot_s"].as_f64().unwrap() > 0.0);
    for r in runs {
        assert_eq!(r["exit"], 0, "{r}");
        assert_eq!(r["result"]["passed"], true);
    }
    let comparison = &both["comparison"];
    assert_eq!(comparison["labels"].as_array().unwrap().len(), 2);
    assert!(comparison["cells_compared"].as_u64().unwrap() > 0);
    assert_eq!(
        comparison["cells"],
        Value::Array(vec![]),
        "vepa delivers the same on both"
    );
    assert!(
        stdout.contains(release) && stdout.contains("PASSED"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(dir.join("html/index.html")).unwrap();
    assert!(page.contains(release) && page.contains("Cells that deliver differently"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains(&format!("{release}: matrix")), "{junit}");

    // diff reads the combined file as two results, and finds them the same.
    let same = run(mvlab().arg("diff").arg(dir.join("both.json")));
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );

    // One cell changed by hand in a copy of this kernel's result: diff names it and exits 1.
    let mut this = both["runs"][0]["result"].clone();
    let cells = this["tests"][0]["cells"].as_array_mut().unwrap();
    let cell = cells
        .iter_mut()
        .find(|c| c["from"] == "e1" && c["to"] == "peer" && c["class"] == "unicast")
        .unwrap();
    cell["received"] = Value::from(cell["received"].as_u64().unwrap() - 1);
    std::fs::write(dir.join("changed.json"), this.to_string()).unwrap();
    std::fs::write(dir.join("this.json"), both["runs"][0]["result"].to_string()).unwrap();
    let changed = run(mvlab()
        .arg("diff")
        .arg(dir.join("this.json"))
        .arg(dir.join("changed.json"))
        .arg("--json"));
    assert_eq!(changed.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert_eq!(d["cells"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["cells"][0]["from"], "e1");
    assert_eq!(d["cells"][0]["to"], "peer");
}

#[test]
fn doctor_on_a_guest_reports_its_release_and_what_it_has() {
    require_root();
    let kernel = guest_kernel();
    let out = run(mvlab().args(["doctor", "--json", "--kernel", &kernel]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &found[0]["report"];
    assert!(report["release"].as_str().unwrap().starts_with("6.1.0-"));
    let available = |id: &str| {
        report["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == id)
            .unwrap()["available"]
            .as_bool()
            .unwrap()
    };
    // Debian's 6.1 builds these as modules (loaded in the guest), and predates the other two.
    assert!(available("vlan") && available("dummy") && available("bridge-vlan-filtering"));
    assert!(!available("bridge-fdb-max-learned") && !available("macvlan-bc-cutoff"));
}

#[test]
fn a_kernel_that_is_not_there_is_bad_input_and_boots_nothing() {
    let out = run(mvlab()
        .arg("run")
        .arg(scenario_path("vepa"))
        .args(["--kernel", "0.0.0-nowhere"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scripts/kernels"), "{stderr}");
    let keep = run(mvlab()
        .arg("run")
        .arg(scenario_path("vepa"))
        .args(["--kernel", "this", "--keep"]));
    assert_eq!(keep.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&keep.stderr).contains("--keep cannot be used with --kernel"));
}
