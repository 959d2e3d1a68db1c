//! `outagesim lint FILE`: the design warnings of a valid scenario (see `outagesim::lint`);
//! `validate` and `run` print the same ones on stderr.

use std::io::Write;

use outagesim::lint;
use outagesim::model::spec::Spec;

use super::CliError;
use super::run::ScenarioArgs;

/// The warnings of `spec` (read from `text`), rendered, or "" when there are none.
pub fn warnings_text(args: &ScenarioArgs, spec: &Spec, text: &str) -> String {
    let w = lint::lint(spec);
    let mut out = lint::render(&w, text, &args.scenario.display().to_string());
    if !w.is_empty() {
        out.push_str(&format!(
            "{} warning{} (outagesim lint explains; they do not stop a run)\n",
            w.len(),
            if w.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Prints the warnings on stderr (validate, run).
pub fn print_warnings(args: &ScenarioArgs, spec: &Spec, text: &str) {
    let t = warnings_text(args, spec, text);
    if !t.is_empty() {
        let _ = std::io::stderr().lock().write_all(t.as_bytes());
    }
}

/// `outagesim lint`: problems are errors (exit 2); warnings are printed on stdout, with a
/// count, and the exit code is 0.
pub fn lint(args: ScenarioArgs) -> Result<(), CliError> {
    let (spec, text) = super::run::load_with_text(&args)?;
    let t = warnings_text(&args, &spec, &text);
    let mut out = std::io::stdout().lock();
    let _ = if t.is_empty() {
        writeln!(out, "{}: no warnings", args.scenario.display())
    } else {
        out.write_all(t.as_bytes())
    };
    Ok(())
}
