//! What a Docker Engine made for a run (`--engine docker`), in words: the engine, and how what
//! it handed out compares with the scenario's prediction. The text and HTML reports both say it.

use crate::run::DockerRun;

/// The engine and how what it handed out compares with the prediction, in one sentence.
pub fn summary(d: &DockerRun) -> String {
    let other_rules = d
        .rules
        .as_ref()
        .filter(|r| d.made.engine != **r && !d.made.engine.starts_with(&format!("{r}.")))
        .map(|r| format!("; the scenario follows Docker {r}'s rules"))
        .unwrap_or_default();
    format!(
        "Docker Engine {} (API {}{other_rules}) made {} containers; {}",
        d.made.engine,
        d.made.api,
        d.made.containers.len(),
        if d.differences.is_empty() {
            "every address and MAC as the scenario predicts".to_string()
        } else {
            format!(
                "{} differ from the scenario's prediction",
                d.differences.len()
            )
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::DockerMade;

    fn run(rules: &str, differences: Vec<String>) -> DockerRun {
        DockerRun {
            made: DockerMade {
                engine: "20.10.24+dfsg1".into(),
                api: "1.41".into(),
                containers: Vec::new(),
            },
            rules: Some(rules.into()),
            differences,
        }
    }

    #[test]
    fn the_line_names_another_versions_rules_and_counts_differences() {
        assert_eq!(
            summary(&run("20.10", Vec::new())),
            "Docker Engine 20.10.24+dfsg1 (API 1.41) made 0 containers; every address and MAC as the scenario predicts"
        );
        assert_eq!(
            summary(&run("29.0", vec!["c1: ...".into()])),
            "Docker Engine 20.10.24+dfsg1 (API 1.41; the scenario follows Docker 29.0's rules) made 0 containers; 1 differ from the scenario's prediction"
        );
    }
}
