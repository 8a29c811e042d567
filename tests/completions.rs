//! Shell completions and man pages as a user installs them (`scripts/install`): the bash script
//! loads in a real bash and completes a command and a flag; zsh and fish scripts name the
//! commands; `mvlab man DIR` writes a page per command that man renders. No root needed.

use std::path::PathBuf;
use std::process::Command;

fn mvlab(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mvlab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mvlab-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What bash's completion offers for `line` (the words typed so far, the last one partial).
fn bash_completes(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words = line.join(" ");
    let program = format!(
        "source {script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{words}'\nCOMP_POINT=${{#COMP_LINE}}\n_mvlab mvlab '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        cword = line.len() - 1,
        cur = line[line.len() - 1],
        prev = line[line.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_loads_the_completion_script_and_completes_commands_and_flags() {
    let dir = scratch("bash");
    let script = dir.join("mvlab.bash");
    std::fs::write(&script, mvlab(&["completions", "bash"])).unwrap();
    assert_eq!(bash_completes(&script, &["mvlab", "ru"]), ["run"]);
    let all = bash_completes(&script, &["mvlab", ""]);
    for command in ["run", "simulate", "lab", "schema", "completions", "man"] {
        assert!(all.iter().any(|c| c == command), "{command} in {all:?}");
    }
    assert_eq!(
        bash_completes(&script, &["mvlab", "run", "--det"]),
        ["--detail"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = mvlab(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef mvlab"), "{}", &zsh[..80]);
    let fish = mvlab(&["completions", "fish"]);
    for command in ["run", "simulate", "schema", "completions", "man"] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh: {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish: {command}"
        );
    }
}

#[test]
fn man_pages_for_every_command_render() {
    let dir = scratch("man");
    mvlab(&["man", dir.to_str().unwrap()]);
    for page in ["mvlab.1", "mvlab-run.1", "mvlab-lab-up.1", "mvlab-schema.1"] {
        assert!(dir.join(page).exists(), "{page}");
    }
    let out = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(dir.join("mvlab-run.1"))
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("mvlab-run"), "{text}");
    assert!(text.contains("--detail"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
