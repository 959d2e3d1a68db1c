//! `outagesim cluster`: the Slurm scripts and the Kubernetes manifests it writes. The
//! manifests are parsed as YAML and their pods' commands run here, one per completion index,
//! as Kubernetes would run them; the merged files must equal a local sweep's. (A real Slurm is
//! exercised by scripts/slurm-test.sh, which .ci/run runs.)

use std::path::Path;

use crate::common::{outagesim, scratch, text};

const STUDY: &[&str] = &[
    "scenarios/mmc.toml",
    "--param",
    "components.api.workers=9,10,12",
    "--replications",
    "3",
    "--set",
    "scenario.duration=5m",
];

fn with(extra: &[&str]) -> Vec<String> {
    STUDY.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

fn run(args: &[String]) -> std::process::Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    outagesim(&a)
}

#[test]
fn slurm_scripts_run_every_shard_and_merge_after_them() {
    let dir = scratch("cluster-slurm");
    let out = dir.join("study");
    let mut args = vec!["cluster".to_owned(), "slurm".to_owned()];
    args.extend(with(&[
        "--tasks",
        "4",
        "--cpus",
        "2",
        "--partition",
        "short",
        "--time",
        "30:00",
        "--out",
        out.to_str().unwrap(),
    ]));
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = text(&o.stdout);
    assert!(said.contains("submit both with: sh "), "{said}");
    let cluster = out.join("cluster");
    let array = std::fs::read_to_string(cluster.join("sweep-array.sbatch")).unwrap();
    for want in [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --partition=short",
        "#SBATCH --time=30:00",
        "--shard auto --shards 4 --resume --threads \"${SLURM_CPUS_PER_TASK:-1}\"",
        "inputs/base.toml --param 'components.api.workers=9,10,12' --replications 3 --seed 1 --set 'scenario.duration=5m'",
    ] {
        assert!(array.contains(want), "{want}\n{array}");
    }
    let merge = std::fs::read_to_string(cluster.join("sweep-merge.sbatch")).unwrap();
    assert!(merge.contains("--kill-on-invalid-dep=yes") && merge.contains(" merge "));
    let submit = std::fs::read_to_string(cluster.join("submit.sh")).unwrap();
    assert!(
        submit.contains("--dependency=afterok:\"$array\""),
        "{submit}"
    );
    // The inputs are a snapshot: editing the scenario afterwards changes nothing.
    assert_eq!(
        std::fs::read_to_string(cluster.join("inputs/base.toml")).unwrap(),
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml"))
            .unwrap()
    );
    // Without sbatch on the PATH, --submit fails with a hint (exit 1), after writing.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .arg("--submit")
        .env("PATH", dir.to_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("cannot run sbatch"),
        "{}",
        text(&o.stderr)
    );
    // Bad requests are refused before anything is written.
    for (extra, want) in [
        (&["--tasks", "0"][..], "--tasks must be at least 1"),
        (&["--tasks", "100"][..], "more than the sweep's 9 runs"),
        (&["--tasks", "2", "--time", "1 h"][..], "--time '1 h'"),
    ] {
        let mut a = vec!["cluster".to_owned(), "slurm".to_owned()];
        a.extend(with(extra));
        a.extend([
            "--out".to_owned(),
            dir.join("x").to_str().unwrap().to_owned(),
        ]);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(text(&o.stderr).contains(want), "{}", text(&o.stderr));
        assert!(!dir.join("x").exists());
    }
}

#[test]
fn a_kubernetes_indexed_job_run_pod_by_pod_gives_the_local_sweep() {
    let dir = scratch("cluster-k8s");
    let manifests = dir.join("manifests");
    let mut args = vec!["cluster".to_owned(), "k8s".to_owned()];
    args.extend(with(&[
        "--tasks",
        "3",
        "--image",
        "registry.example/outagesim:1",
        "--claim",
        "study-results",
        "--out",
        manifests.to_str().unwrap(),
    ]));
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("kubectl apply -f"));
    let docs = |name: &str| -> Vec<serde_json::Value> {
        let y = std::fs::read_to_string(manifests.join(name)).unwrap();
        yaml_serde::Deserializer::from_str(&y)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    };
    let job_docs = docs("sweep-job.yaml");
    assert_eq!(job_docs.len(), 2);
    let (cm, job) = (&job_docs[0], &job_docs[1]);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 3);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(
        pod["volumes"][1]["persistentVolumeClaim"]["claimName"],
        "study-results"
    );
    assert_eq!(
        pod["volumes"][0]["configMap"]["name"],
        cm["metadata"]["name"]
    );
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "registry.example/outagesim:1");
    // The ConfigMap holds the scenario byte for byte.
    let base = cm["data"]["base.toml"].as_str().unwrap();
    let original =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml"))
            .unwrap();
    assert_eq!(base, original);
    // Play the cluster: the ConfigMap as /inputs, a folder as the volume, and each pod's
    // command with its completion index.
    let inputs = dir.join("inputs");
    let results = dir.join("results");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("base.toml"), base).unwrap();
    let local_path = |a: &str| {
        a.replace("/inputs", inputs.to_str().unwrap())
            .replace("/results", results.to_str().unwrap())
    };
    let command: Vec<String> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| local_path(v.as_str().unwrap()))
        .collect();
    assert_eq!(command[..2], ["outagesim", "sweep"]);
    // Pods finish in any order.
    for index in ["2", "0", "1"] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_outagesim"))
            .args(&command[1..])
            .env("JOB_COMPLETION_INDEX", index)
            .output()
            .unwrap();
        assert!(o.status.success(), "pod {index}: {}", text(&o.stderr));
    }
    let merge_docs = docs("sweep-merge.yaml");
    let merge_cmd: Vec<String> =
        merge_docs[0]["spec"]["template"]["spec"]["containers"][0]["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| local_path(v.as_str().unwrap()))
            .collect();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .args(&merge_cmd[1..])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let merged = Path::new(&merge_cmd[2]).to_path_buf();
    let local = dir.join("local");
    let mut a = vec!["sweep".to_owned()];
    a.extend(with(&["--quiet", "--out", local.to_str().unwrap()]));
    assert!(run(&a).status.success());
    for f in ["runs.csv", "points.csv"] {
        assert_eq!(
            std::fs::read(local.join(f)).unwrap(),
            std::fs::read(merged.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Hostile paths cannot add commands to the generated scripts: a path with a space is quoted
/// in `#SBATCH` lines and in shell words, a newline is refused before anything is written,
/// and a file name with a newline stays inside its comment line.
#[test]
fn hostile_paths_cannot_inject_into_the_slurm_scripts() {
    let dir = scratch("cluster-hostile");
    let out = dir.join("my study");
    let mut args = vec!["cluster".to_owned(), "slurm".to_owned()];
    args.extend(with(&["--tasks", "2", "--out", out.to_str().unwrap()]));
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let array = std::fs::read_to_string(out.join("cluster/sweep-array.sbatch")).unwrap();
    let logs = out.join("cluster/logs");
    let want = format!("#SBATCH --output=\"{}/shard-%a.out\"", logs.display());
    assert!(array.lines().any(|l| l == want), "{array}");
    for script in ["sweep-array.sbatch", "sweep-merge.sbatch", "submit.sh"] {
        let path = out.join("cluster").join(script);
        let check = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("bash runs");
        assert!(check.status.success(), "{script}: {}", text(&check.stderr));
    }

    let bad_out = dir.join("x\ntouch pwned");
    let mut args = vec!["cluster".to_owned(), "slurm".to_owned()];
    args.extend(with(&["--tasks", "2", "--out", bad_out.to_str().unwrap()]));
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("control character"));
    assert!(!bad_out.exists());

    // A scenario file whose name holds a newline: the name stays in its comment.
    let file = dir.join("mmc\necho pwned.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml"),
        &file,
    )
    .unwrap();
    let out = dir.join("named");
    let mut args: Vec<String> = ["cluster", "slurm", file.to_str().unwrap()]
        .map(str::to_owned)
        .to_vec();
    args.extend(
        with(&["--tasks", "2", "--out", out.to_str().unwrap()])[1..]
            .iter()
            .cloned(),
    );
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let array = std::fs::read_to_string(out.join("cluster/sweep-array.sbatch")).unwrap();
    assert!(
        !array.lines().any(|l| l.starts_with("echo pwned")),
        "{array}"
    );
}

/// Hostile values cannot add keys to the Kubernetes manifests: an image, a claim, an override
/// and a scenario path with newlines, quotes, colons, `#`, a leading `-` and spaces are written
/// by a YAML serializer, parse back to the same strings, and no key appears that the manifests
/// do not write.
#[test]
fn hostile_values_round_trip_through_the_kubernetes_manifests() {
    let dir = scratch("cluster-k8s-hostile");
    let folder = dir.join("- a: b # c 'd' \"e\"\n- f: g");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("x: y #z.toml");
    let original =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml"))
            .unwrap();
    std::fs::write(&file, &original).unwrap();
    let image = "img:1\nkind: Pod # \"x\"\n- extra: 'y'";
    let claim = "- claim: x # y";
    let set = "scenario.name=\"- n: 'v' # w \\\" z\"";
    let manifests = dir.join("manifests");
    let o = outagesim(&[
        "cluster",
        "k8s",
        file.to_str().unwrap(),
        "--param",
        "components.api.workers=9,10",
        "--replications",
        "2",
        "--set",
        set,
        "--tasks",
        "2",
        &format!("--image={image}"),
        &format!("--claim={claim}"),
        "--out",
        manifests.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let docs = |name: &str| -> Vec<serde_json::Value> {
        let y = std::fs::read_to_string(manifests.join(name)).unwrap();
        yaml_serde::Deserializer::from_str(&y)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let job_docs = docs("sweep-job.yaml");
    assert_eq!(job_docs.len(), 2);
    let (cm, job) = (&job_docs[0], &job_docs[1]);
    assert_eq!(keys(cm), ["apiVersion", "data", "kind", "metadata"]);
    assert_eq!(keys(&cm["data"]), ["base.toml"]);
    assert_eq!(cm["data"]["base.toml"], original.as_str());
    assert_eq!(keys(job), ["apiVersion", "kind", "metadata", "spec"]);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(keys(pod), ["containers", "restartPolicy", "volumes"]);
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
    let c = &pod["containers"][0];
    assert_eq!(
        keys(c),
        ["command", "image", "name", "resources", "volumeMounts"]
    );
    assert_eq!(c["image"], image);
    assert_eq!(
        pod["volumes"][1]["persistentVolumeClaim"]["claimName"],
        claim
    );
    let command: Vec<&str> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(command.contains(&set), "{command:?}");
    let merge = docs("sweep-merge.yaml");
    assert_eq!(merge.len(), 1);
    assert_eq!(keys(&merge[0]), ["apiVersion", "kind", "metadata", "spec"]);
    let mc = &merge[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(keys(mc), ["command", "image", "name", "volumeMounts"]);
    assert_eq!(mc["image"], image);
}
