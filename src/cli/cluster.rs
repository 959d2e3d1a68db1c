//! `outagesim cluster slurm|k8s`: runs a sweep on the cluster a team already has, as shards
//! (`sweep --shard auto`) and a merge.
//!
//! Both write a snapshot of the inputs (the sweep file, its `base` pointed at a copy of the
//! base scenario) so that a scenario edited while the job runs cannot mix two studies, then:
//! - Slurm: an array job (one task per shard) and a merge job that runs after it succeeds
//!   (`--dependency=afterok`), plus `submit.sh`; `--submit` submits both with `sbatch`.
//! - Kubernetes: an Indexed Job (completions = shards) with the inputs in a ConfigMap and the
//!   results on a shared volume, and a merge Job to apply once it completes.

use super::sweep::{PlanArgs, prepare};
use super::{CliError, bad, shell_word};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_serde::{Mapping, Value};

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Write (and with --submit, submit) a Slurm array job of sweep shards and its merge job.
    Slurm(SlurmArgs),
    /// Write a Kubernetes Indexed Job of sweep shards and its merge Job.
    K8s(K8sArgs),
}

/// What to sweep, as `outagesim sweep` takes it, and how to split it.
#[derive(Args, Debug, Clone)]
pub struct StudyArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Number of shards (array tasks, or the Job's completions).
    #[arg(long)]
    pub tasks: u32,
    /// CPUs per task: each task runs that many runs at once.
    #[arg(long, default_value_t = 1)]
    pub cpus: u32,
}

#[derive(Args, Debug)]
pub struct SlurmArgs {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Slurm partition [default: the cluster's].
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, in Slurm's format (e.g. 30:00, 2:00:00, 1-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Output directory, on a file system the compute nodes share [default: `sweep`'s
    /// default folder for this study].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The outagesim the tasks run [default: this one].
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Submit the jobs with sbatch (else print how to).
    #[arg(long)]
    pub submit: bool,
}

#[derive(Args, Debug)]
pub struct K8sArgs {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Container image holding the outagesim binary (on its PATH).
    #[arg(long)]
    pub image: String,
    /// PersistentVolumeClaim for the results, shared by every pod (ReadWriteMany).
    #[arg(long, default_value = "outagesim-results")]
    pub claim: String,
    /// Pods at once [default: all tasks].
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// Where the manifests are written [default: `sweep`'s default folder for this study, then
    /// cluster/].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(anyhow::anyhow!("{e}"))
}

/// A checked study: its name and the two input files' text, ready to snapshot.
struct Study {
    name: String,
    /// Where `sweep` would write this study by default.
    default_out: PathBuf,
    /// The sweep file's text with `base = "base.toml"`, or None for a scenario swept by flags.
    sweep_text: Option<String>,
    base_text: String,
    /// The flags that go on every task's command line after the input file.
    flags: Vec<String>,
    runs: u64,
}

fn study(s: &StudyArgs) -> Result<Study, CliError> {
    if s.tasks == 0 {
        return Err(bad("--tasks must be at least 1"));
    }
    if s.cpus == 0 {
        return Err(bad("--cpus must be at least 1"));
    }
    // The whole plan is checked (every point loaded) before anything is written.
    let prep = prepare(&s.plan)?;
    let runs = prep.plan.runs();
    if u64::from(s.tasks) > runs {
        return Err(bad(format!(
            "--tasks {} is more than the sweep's {runs} runs",
            s.tasks
        )));
    }
    // The snapshot is the text that was checked, with `base` pointed at the copy beside it.
    let sweep_text = match &prep.sweep_text {
        Some(text) => {
            let mut doc: toml_edit::DocumentMut = text
                .parse()
                .map_err(|e| bad(format!("{}: {e}", s.plan.file.display())))?;
            doc["base"] = toml_edit::value("base.toml");
            Some(doc.to_string())
        }
        None => None,
    };
    let mut flags = Vec::new();
    for p in &s.plan.params {
        flags.extend(["--param".to_owned(), p.clone()]);
    }
    if let Some(r) = s.plan.replications {
        flags.extend(["--replications".to_owned(), r.to_string()]);
    }
    // The seed is pinned: the study's seed, whichever way it was chosen.
    flags.extend(["--seed".to_owned(), prep.plan.seed.to_string()]);
    for set in &s.plan.sets {
        flags.extend(["--set".to_owned(), set.clone()]);
    }
    Ok(Study {
        default_out: super::sweep::default_sweep_out(&s.plan, &prep),
        name: prep.manifest.scenario.clone(),
        sweep_text,
        base_text: prep.plan.text.clone(),
        flags,
        runs,
    })
}

impl Study {
    /// Writes the inputs under `dir` and returns the file the tasks sweep.
    fn write_inputs(&self, dir: &Path) -> Result<PathBuf, CliError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            outagesim::files::write_atomic(&p, text.as_bytes())
                .map_err(|e| failed(format!("{e:#}")))
                .map(|()| p)
        };
        let base = write("base.toml", &self.base_text)?;
        match &self.sweep_text {
            Some(t) => write("sweep.toml", t),
            None => Ok(base),
        }
    }

    fn input_name(&self) -> &'static str {
        if self.sweep_text.is_some() {
            "sweep.toml"
        } else {
            "base.toml"
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| failed(format!("{}: {e}", p.display())))
}

pub fn cluster(cmd: ClusterCommand) -> Result<(), CliError> {
    match cmd {
        ClusterCommand::Slurm(a) => slurm(a),
        ClusterCommand::K8s(a) => k8s(a),
    }
}

/// A value of an `#SBATCH` option: refused if it holds a control character (a newline would
/// end the directive and start a command) or a double quote; double-quoted when it holds
/// whitespace, as sbatch reads quoted option values.
fn sbatch_value(v: &str) -> Result<String, CliError> {
    if v.chars().any(|c| c.is_control() || c == '"') {
        return Err(bad(format!(
            "{} cannot be written into a Slurm script: it contains a control character or a double quote",
            v.escape_debug()
        )));
    }
    Ok(if v.contains(char::is_whitespace) {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    })
}

/// Text for a `#` comment line of a generated file: control characters escaped, so nothing
/// written there can start a line of its own.
fn comment_text(v: &str) -> String {
    v.escape_debug().to_string()
}

/// Slurm's job-name characters: letters, digits, dash, underscore, dot.
fn job_name(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("outagesim-{n}")
}

fn slurm(a: SlurmArgs) -> Result<(), CliError> {
    for (flag, v) in [("--partition", &a.partition), ("--time", &a.time)] {
        if let Some(v) = v
            && (v.is_empty() || v.contains(char::is_whitespace))
        {
            return Err(bad(format!("{flag} '{v}': expected a single word")));
        }
    }
    let st = study(&a.study)?;
    // Quoted before anything is written.
    let flags = st
        .flags
        .iter()
        .map(|f| shell_word(f))
        .collect::<Result<Vec<_>, _>>()?;
    let out = absolute(&a.out.clone().unwrap_or_else(|| st.default_out.clone()))?;
    // Refused before anything is written.
    sbatch_value(&out.display().to_string())?;
    let binary = match &a.binary {
        Some(b) => absolute(b)?,
        None => std::env::current_exe().map_err(failed)?,
    };
    let dir = out.join("cluster");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| failed(format!("cannot create {}: {e}", logs.display())))?;
    let input = st.write_inputs(&dir.join("inputs"))?;
    let n = a.study.tasks;
    let q = |p: &Path| shell_word(&p.display().to_string());
    let name = job_name(&st.name);
    let mut head = vec![
        "#!/bin/bash".to_owned(),
        format!("#SBATCH --job-name={name}"),
        format!("#SBATCH --array=0-{}", n - 1),
        format!("#SBATCH --cpus-per-task={}", a.study.cpus),
        format!(
            "#SBATCH --output={}",
            sbatch_value(&format!("{}/shard-%a.out", logs.display()))?
        ),
    ];
    if let Some(p) = &a.partition {
        head.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &a.time {
        head.push(format!("#SBATCH --time={t}"));
    }
    let array = format!(
        "{}\n#\n# Generated by `outagesim cluster slurm`: the {} runs of {} as {n} shards, one per\n\
         # array task (task ID = shard number - 1, so `sbatch --array=2,5 THIS` reruns shards 3\n\
         # and 6). Each shard is written complete or not at all, and a retried task continues\n\
         # where it stopped (--resume). The merge job joins them once all succeed.\n\
         set -euo pipefail\n\
         exec {} sweep {} {} --out {} --shard auto --shards {n} --resume --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet\n",
        head.join("\n"),
        st.runs,
        comment_text(&a.study.plan.file.display().to_string()),
        q(&binary)?,
        q(&input)?,
        flags.join(" "),
        q(&out)?,
    );
    let mut merge_head = vec![
        "#!/bin/bash".to_owned(),
        format!("#SBATCH --job-name={name}-merge"),
        "#SBATCH --cpus-per-task=1".to_owned(),
        // A failed shard cancels the merge instead of leaving it pending forever.
        "#SBATCH --kill-on-invalid-dep=yes".to_owned(),
        format!(
            "#SBATCH --output={}",
            sbatch_value(&format!("{}/merge.out", logs.display()))?
        ),
    ];
    if let Some(p) = &a.partition {
        merge_head.push(format!("#SBATCH --partition={p}"));
    }
    let merge = format!(
        "{}\n#\n# Generated by `outagesim cluster slurm`: joins the shards into runs.csv and\n\
         # points.csv (submitted with --dependency=afterok on the array job).\n\
         set -euo pipefail\n\
         exec {} merge {}\n",
        merge_head.join("\n"),
        q(&binary)?,
        q(&out)?
    );
    let array_path = dir.join("sweep-array.sbatch");
    let merge_path = dir.join("sweep-merge.sbatch");
    let submit_path = dir.join("submit.sh");
    let submit = format!(
        "#!/bin/sh\n# Submits the array job, then the merge job to run after it succeeds.\nset -eu\n\
         array=$(sbatch --parsable {})\narray=${{array%%;*}}\n\
         merge=$(sbatch --parsable --dependency=afterok:\"$array\" {})\n\
         echo \"array job $array ({n} tasks), merge job ${{merge%%;*}}\"\n",
        q(&array_path)?,
        q(&merge_path)?
    );
    for (p, text) in [
        (&array_path, &array),
        (&merge_path, &merge),
        (&submit_path, &submit),
    ] {
        outagesim::files::write_atomic(p, text.as_bytes()).map_err(|e| failed(format!("{e:#}")))?;
        make_executable(p);
    }
    println!(
        "wrote {} ({n} array tasks, {} runs) and {}",
        array_path.display(),
        st.runs,
        merge_path.display()
    );
    if !a.submit {
        println!("submit both with: sh {}", q(&submit_path)?);
        println!(
            "results: {}/runs.csv and points.csv once the merge job has run (logs in {})",
            out.display(),
            logs.display()
        );
        return Ok(());
    }
    let array_id = sbatch(&[array_path.as_os_str()])?;
    let dep = format!("--dependency=afterok:{array_id}");
    let merge_id = sbatch(&[std::ffi::OsStr::new(&dep), merge_path.as_os_str()])?;
    println!(
        "submitted array job {array_id} ({n} tasks) and merge job {merge_id} (after {array_id} succeeds)"
    );
    println!("watch: squeue -j {array_id},{merge_id}");
    println!("results: {}/runs.csv and points.csv", out.display());
    Ok(())
}

/// `sbatch --parsable ARGS`: the job ID.
fn sbatch(args: &[&std::ffi::OsStr]) -> Result<String, CliError> {
    let o = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .map_err(|e| {
            failed(format!(
                "cannot run sbatch ({e}); is this a Slurm login node? Submit later with the script's submit.sh"
            ))
        })?;
    if !o.status.success() {
        return Err(failed(format!(
            "sbatch failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    let out = String::from_utf8_lossy(&o.stdout);
    let id = out.trim().split(';').next().unwrap_or("").to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(failed(format!("sbatch printed no job ID: {}", out.trim())));
    }
    Ok(id)
}

#[cfg(unix)]
fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

/// A YAML mapping with its keys in the order given.
fn ymap<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::String(k.to_owned()), v);
    }
    Value::Mapping(m)
}

/// A YAML string scalar (the serializer quotes it where YAML would read it otherwise).
fn ys(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// A YAML sequence of strings.
fn ylist(v: &[String]) -> Value {
    Value::Sequence(v.iter().map(|s| ys(s)).collect())
}

/// YAML documents, each written by the YAML serializer, after a comment header.
fn yaml_docs(header: &str, docs: &[Value]) -> Result<String, CliError> {
    let mut out = header.to_owned();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(
            &yaml_serde::to_string(d).map_err(|e| failed(format!("cannot write YAML: {e}")))?,
        );
    }
    Ok(out)
}

/// Kubernetes names: lower-case letters, digits and dashes, at most 52 characters (Job names
/// become pod label values with a suffix).
fn k8s_name(name: &str) -> String {
    let mut n: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n = format!("outagesim-{}", n.trim_matches('-'));
    n.truncate(52);
    n.trim_end_matches('-').to_owned()
}

/// In-container paths: the inputs' ConfigMap and the shared results volume.
pub const K8S_INPUTS: &str = "/inputs";
pub const K8S_RESULTS: &str = "/results";

fn k8s(a: K8sArgs) -> Result<(), CliError> {
    if a.parallelism == Some(0) {
        return Err(bad("--parallelism must be at least 1"));
    }
    if a.image.trim().is_empty() {
        return Err(bad(
            "--image: name the container image that holds outagesim",
        ));
    }
    let st = study(&a.study)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| st.default_out.join("cluster"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    let name = k8s_name(&st.name);
    let n = a.study.tasks;
    let results = format!("{K8S_RESULTS}/{}", name.trim_start_matches("outagesim-"));
    let mut command: Vec<String> = vec![
        "outagesim".into(),
        "sweep".into(),
        format!("{K8S_INPUTS}/{}", st.input_name()),
    ];
    command.extend(st.flags.iter().cloned());
    command.extend(
        [
            "--out",
            &results,
            "--shard",
            "auto",
            "--shards",
            &n.to_string(),
            "--resume",
            "--threads",
            &a.study.cpus.to_string(),
            "--quiet",
        ]
        .map(str::to_owned),
    );
    let mut data = vec![("base.toml", ys(&st.base_text))];
    if let Some(t) = &st.sweep_text {
        data.push(("sweep.toml", ys(t)));
    }
    let mut data_map = Mapping::new();
    for (k, v) in data {
        data_map.insert(ys(k), v);
    }
    let cm_name = format!("{name}-inputs");
    let pod = |container: Value| {
        ymap([
            ("restartPolicy", ys("Never")),
            ("containers", Value::Sequence(vec![container])),
            (
                "volumes",
                Value::Sequence(vec![
                    ymap([
                        ("name", ys("inputs")),
                        ("configMap", ymap([("name", ys(&cm_name))])),
                    ]),
                    ymap([
                        ("name", ys("results")),
                        ("persistentVolumeClaim", ymap([("claimName", ys(&a.claim))])),
                    ]),
                ]),
            ),
        ])
    };
    let mounts = || {
        Value::Sequence(vec![
            ymap([
                ("name", ys("inputs")),
                ("mountPath", ys(K8S_INPUTS)),
                ("readOnly", Value::Bool(true)),
            ]),
            ymap([("name", ys("results")), ("mountPath", ys(K8S_RESULTS))]),
        ])
    };
    let config_map = ymap([
        ("apiVersion", ys("v1")),
        ("kind", ys("ConfigMap")),
        ("metadata", ymap([("name", ys(&cm_name))])),
        ("data", Value::Mapping(data_map)),
    ]);
    let job_doc = ymap([
        ("apiVersion", ys("batch/v1")),
        ("kind", ys("Job")),
        ("metadata", ymap([("name", ys(&name))])),
        (
            "spec",
            ymap([
                ("completionMode", ys("Indexed")),
                ("completions", Value::Number(n.into())),
                (
                    "parallelism",
                    Value::Number(a.parallelism.unwrap_or(n).min(n).into()),
                ),
                ("backoffLimit", Value::Number((2 * u64::from(n)).into())),
                (
                    "template",
                    ymap([(
                        "spec",
                        pod(ymap([
                            ("name", ys("shard")),
                            ("image", ys(&a.image)),
                            ("command", ylist(&command)),
                            (
                                "resources",
                                ymap([(
                                    "requests",
                                    ymap([("cpu", ys(&a.study.cpus.to_string()))]),
                                )]),
                            ),
                            ("volumeMounts", mounts()),
                        ])),
                    )]),
                ),
            ]),
        ),
    ]);
    let job = yaml_docs(
        &format!(
            "# Generated by `outagesim cluster k8s`: the {runs} runs of {file} as {n} shards, one per\n\
             # completion index of an Indexed Job. Each pod writes its shard to the shared volume\n\
             # complete or not at all; a retried pod continues where it stopped (--resume).\n\
             # Apply with: kubectl apply -f THIS; then, once it completes, the merge Job.\n",
            runs = st.runs,
            file = comment_text(&a.study.plan.file.display().to_string()),
        ),
        &[config_map, job_doc],
    )?;
    let merge_cmd = vec!["outagesim".to_owned(), "merge".into(), results.clone()];
    let merge_doc = ymap([
        ("apiVersion", ys("batch/v1")),
        ("kind", ys("Job")),
        ("metadata", ymap([("name", ys(&format!("{name}-merge")))])),
        (
            "spec",
            ymap([
                ("backoffLimit", Value::Number(2.into())),
                (
                    "template",
                    ymap([(
                        "spec",
                        pod(ymap([
                            ("name", ys("merge")),
                            ("image", ys(&a.image)),
                            ("command", ylist(&merge_cmd)),
                            ("volumeMounts", mounts()),
                        ])),
                    )]),
                ),
            ]),
        ),
    ]);
    let merge = yaml_docs(
        &format!(
            "# Generated by `outagesim cluster k8s`: joins the shards of {name} into runs.csv and\n\
             # points.csv on the results volume. Apply once {name} has completed:\n\
             #   kubectl wait --for=condition=complete job/{name} --timeout=24h && kubectl apply -f THIS\n"
        ),
        &[merge_doc],
    )?;
    let job_path = dir.join("sweep-job.yaml");
    let merge_path = dir.join("sweep-merge.yaml");
    for (p, text) in [(&job_path, &job), (&merge_path, &merge)] {
        outagesim::files::write_atomic(p, text.as_bytes()).map_err(|e| failed(format!("{e:#}")))?;
    }
    println!(
        "wrote {} (Indexed Job of {n} shards, {} runs) and {}",
        job_path.display(),
        st.runs,
        merge_path.display()
    );
    println!(
        "results go to the PersistentVolumeClaim '{}' (ReadWriteMany), under {results}",
        a.claim
    );
    println!(
        "run: kubectl apply -f {jp} && kubectl wait --for=condition=complete job/{name} --timeout=24h && kubectl apply -f {mp}",
        jp = shell_word(&job_path.display().to_string())?,
        mp = shell_word(&merge_path.display().to_string())?
    );
    Ok(())
}
