//! The GitHub Action (`action.yml`) and the workflow that uses it run on GitHub, not here: what
//! can be checked offline is. Both files parse; the action is composite with the inputs and
//! outputs docs/output.md documents; every script is valid bash, reads the inputs from its
//! environment (never `${{ inputs.… }}` pasted into a script, which would let an input run
//! code: GitHub's "script injection" guidance), and masks the Argo CD password before it
//! becomes an output.

use std::path::Path;
use std::process::Command;

fn yaml(path: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bash_n(script: &str) -> Result<(), String> {
    let out = Command::new("bash")
        .args(["-n", "-c", script])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_action_is_composite_with_its_inputs_outputs_and_cleanup() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite", "{action}");
    for input in ["version", "repository", "file", "args", "cleanup"] {
        assert!(action["inputs"][input].is_object(), "input {input}");
    }
    assert_eq!(action["inputs"]["version"]["default"], "latest");
    assert_eq!(action["inputs"]["file"]["default"], "playground.yaml");
    for output in ["kubeconfig", "argocd-password", "context"] {
        let value = action["outputs"][output]["value"]
            .as_str()
            .unwrap_or_default();
        assert!(
            value.contains("steps.up.outputs."),
            "output {output}: {value:?}"
        );
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    let scripts: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(scripts.len(), steps.len(), "every step runs a script");
    for script in &scripts {
        bash_n(script).unwrap_or_else(|e| panic!("{e}\n{script}"));
        assert!(
            !script.contains("${{"),
            "an expression pasted into a script:\n{script}"
        );
    }
    let up = scripts
        .iter()
        .find(|s| s.contains("\"$playground\" \"${up[@]}\""))
        .expect("a step runs playground up");
    assert!(up.contains("up=(up -o json)"), "{up}");
    let mask = up
        .find("::add-mask::$password")
        .expect("the password is masked");
    let output = up.find("argocd-password=$password").unwrap();
    assert!(mask < output, "masked before it is an output:\n{up}");
    // The cleanup use drops the lab the first use named, through a file of the job's temp
    // dir: no script writes GITHUB_ENV or GITHUB_PATH, which later steps would trust.
    assert!(up.contains(r#">"$state/lab""#), "{up}");
    for script in &scripts {
        assert!(
            !script.contains("GITHUB_ENV") && !script.contains("GITHUB_PATH"),
            "{script}"
        );
    }
    let drop = scripts
        .iter()
        .find(|s| s.contains("drop \"$lab\""))
        .unwrap();
    assert!(drop.contains("--yes"), "{drop}");
    let drop_step = steps.iter().find(|s| s["run"] == *drop).unwrap();
    assert_eq!(drop_step["if"], "inputs.cleanup == 'true'");

    // A test that cannot fail is a defect: the checks above do catch a broken script.
    assert!(bash_n("if then; fi").is_err());
}

#[test]
fn the_workflow_uses_the_action_on_the_sample_lab_and_cleans_up() {
    let wf = yaml(".github/workflows/action.yml");
    let steps = wf["jobs"]["sample-lab"]["steps"].as_array().unwrap();
    let uses: Vec<&serde_json::Value> = steps.iter().filter(|s| s["uses"] == "./").collect();
    assert_eq!(uses.len(), 2, "up, then cleanup: {steps:?}");
    assert_eq!(uses[1]["if"], "always()");
    assert_eq!(uses[1]["with"]["cleanup"], true);
    for step in steps.iter().filter_map(|s| s["run"].as_str()) {
        bash_n(step).unwrap_or_else(|e| panic!("{e}\n{step}"));
    }
}
