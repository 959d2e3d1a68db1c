//! Whole folders written by hand, odd ones included: every plot is drawn without a panic, and
//! twice the same.

use super::*;

/// A fresh folder holding `files` (name, contents).
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("outagesim-plot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The names of the files written, and a check that each PNG starts with the signature.
fn names(files: &[PathBuf]) -> Vec<String> {
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        if f.extension().is_some_and(|e| e == "png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
        } else {
            assert!(bytes.starts_with(b"<svg"), "{}", f.display());
        }
    }
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

const TS_HEADER: &str = "time_s,client,requests,attempts,successes,degraded,errors,timeouts,availability,goodput_per_s,latency_mean_s,latency_p50_s,latency_p90_s,latency_p99_s\n";
const COMP_HEADER: &str = "time_s,component,kind,replicas,up_replicas,arrivals,offered_per_s,rejected,dropped,denied,served,errors,utilization,mean_wait_s,max_queue,healthy_seen,gossip\n";

#[test]
fn an_empty_run_still_plots() {
    let dir = folder(
        "empty-run",
        &[
            (
                "summary.json",
                r#"{"scenario": "nothing", "duration_s": 0}"#,
            ),
            ("timeseries.csv", TS_HEADER),
            ("components.csv", COMP_HEADER),
            ("events.csv", "time_s,kind,target,detail\n"),
            (
                "blast_radius.csv",
                "time_s,clients_impacted,clients_total,components_impacted,components_total\n",
            ),
        ],
    );
    let files = plot_dir(&dir, None).unwrap();
    assert_eq!(
        names(&files),
        [
            "availability.png",
            "availability.svg",
            "blast-radius.png",
            "blast-radius.svg",
            "components.png",
            "components.svg"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn odd_runs_plot_without_panics() {
    // One bucket; a NaN, an empty cell and a flat line at 1; a fault without end, one that
    // never started, an alarm and an action; no components.csv and no blast_radius.csv.
    let ts = format!(
        "{TS_HEADER}0,a,1,1,1,0,0,0,NaN,1,0,0,0,0\n0,b,1,1,1,0,0,0,,1,0,0,0,0\n0,c,1,1,1,0,0,0,1.000000,1,0,0,0,0\n"
    );
    let events = "time_s,kind,target,detail\n\
        0,fault_start,x[0],cut (crash)\n\
        1,fault_end,y[0],ghost (hang)\n\
        2,alarm,ops,busy: utilization of x = 0.9000 (above 0.8)\n\
        2.5,alarm_clear,ops,busy\n\
        2.7,alarm,ops,busy: utilization of x = 0.9100 (above 0.8)\n\
        3,action,x,\"restart (restart, on alarm busy)\"\n\
        4,failure_start,x[1],disk\n";
    let dir = folder(
        "odd-run",
        &[
            ("summary.json", r#"{"duration_s": 60}"#),
            ("timeseries.csv", &ts),
            ("events.csv", events),
        ],
    );
    let files = plot_dir(&dir, None).unwrap();
    assert_eq!(
        names(&files),
        [
            "availability.png",
            "availability.svg",
            "latency.png",
            "latency.svg"
        ]
    );
    let svg = std::fs::read_to_string(dir.join("plots/availability.svg")).unwrap();
    for s in [
        "cut (crash)",
        "alarm: busy",
        "action: restart",
        "random failure: disk",
    ] {
        assert!(svg.contains(s), "{s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_plots_the_same_bytes_twice() {
    let mut ts = TS_HEADER.to_owned();
    let mut comps = COMP_HEADER.to_owned();
    for i in 0..20 {
        let a = if (5..9).contains(&i) { 0.5 } else { 0.999 };
        ts.push_str(&format!(
            "{},users,10,10,9,0,1,0,{a},1,0.1,0.1,0.1,0.1\n",
            i * 60
        ));
        comps.push_str(&format!(
            "{},api,service,3,{},10,1,0,0,0,10,0,0.5,0,1,,0\n",
            i * 60,
            if (5..9).contains(&i) { 2.0 } else { 3.0 }
        ));
    }
    let events = "time_s,kind,target,detail\n300,fault_start,api[0],cut (crash)\n540,fault_end,api[0],cut (crash)\n";
    let dir = folder(
        "same-run",
        &[
            (
                "summary.json",
                r#"{"scenario": "twice", "duration_s": 1200}"#,
            ),
            ("timeseries.csv", &ts),
            ("components.csv", &comps),
            ("events.csv", events),
        ],
    );
    let read = |files: &[PathBuf]| -> Vec<Vec<u8>> {
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    };
    let first = plot_dir(&dir, None).unwrap();
    let a = read(&first);
    let second = plot_dir(&dir, None).unwrap();
    assert_eq!(first, second);
    assert!(a == read(&second), "the same folder gave different bytes");
    let _ = std::fs::remove_dir_all(&dir);
}

/// points.csv and runs.csv for `params` (header names) and rows of (values, mean, low, high).
fn sweep_files(params: &[&str], rows: &[(Vec<&str>, &str, &str, &str)]) -> (String, String) {
    let p = params.join(",");
    let sep = if p.is_empty() { "" } else { "," };
    let mut points = format!(
        "point{sep}{p},runs,availability_mean,availability_sd,availability_ci95_low,availability_ci95_high,availability_n\n"
    );
    let mut runs = format!("point,replication,seed{sep}{p},availability,worst_downtime_s\n");
    for (i, (values, mean, lo, hi)) in rows.iter().enumerate() {
        let v = values.join(",");
        points.push_str(&format!("{i}{sep}{v},2,{mean},,{lo},{hi},2\n"));
        for r in 0..2 {
            runs.push_str(&format!(
                "{i},{r},{}{sep}{v},{mean},{}\n",
                7 * i + r,
                60 * (i + r)
            ));
        }
    }
    (points, runs)
}

#[test]
fn odd_sweeps_plot_without_panics() {
    // No parameter at all, one point, an undefined mean.
    let (points, runs) = sweep_files(&[], &[(vec![], "", "", "")]);
    let dir = folder(
        "sweep-none",
        &[("points.csv", &points), ("runs.csv", &runs)],
    );
    let files = plot_dir(&dir, None).unwrap();
    assert_eq!(
        names(&files),
        [
            "availability-nines.png",
            "availability-nines.svg",
            "availability.png",
            "availability.svg",
            "downtime.png",
            "downtime.svg"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);

    // All-equal values at 1 (capped on the nines scale), a NaN, bounds past 1 and below 0.
    let (points, runs) = sweep_files(
        &["a.n", "b.kind"],
        &[
            (vec!["1", "x"], "1", "1", "1"),
            (vec!["2", "x"], "1", "0.9", "1.2"),
            (vec!["1", "y"], "NaN", "-0.5", ""),
            (vec!["2", "y"], "0.5", "", ""),
        ],
    );
    let dir = folder("sweep-odd", &[("points.csv", &points), ("runs.csv", &runs)]);
    plot_dir(&dir, None).unwrap();
    let svg = std::fs::read_to_string(dir.join("plots/availability-nines.svg")).unwrap();
    assert!(svg.contains("is drawn at 9 nines"));
    assert!(svg.contains("kind=x") && svg.contains("kind=y"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sampled_points_are_drawn_as_dots() {
    // Latin-hypercube-like: every point has its own values of both parameters.
    let rows: Vec<(Vec<String>, String)> = (0..30)
        .map(|i| {
            let x = format!("{}", (i * 7) % 30);
            let y = format!("{:.3}", 0.1 + 0.03 * ((i * 11) % 30) as f64);
            (vec![x, y], format!("{:.4}", 0.9 + 0.003 * i as f64))
        })
        .collect();
    let rows: Vec<(Vec<&str>, &str, &str, &str)> = rows
        .iter()
        .map(|(v, m)| {
            (
                v.iter().map(String::as_str).collect(),
                m.as_str(),
                "0.9",
                "0.999",
            )
        })
        .collect();
    let (points, runs) = sweep_files(&["a.replicas", "b.rate"], &rows);
    let dir = folder(
        "sweep-sampled",
        &[("points.csv", &points), ("runs.csv", &runs)],
    );
    let opts = SweepPlot {
        reference: vec![Reference {
            label: "model".into(),
            x: vec![0.0, 30.0],
            y: vec![0.9, 0.99],
        }],
        ..SweepPlot::default()
    };
    plot_dir(&dir, Some(&opts)).unwrap();
    let svg = std::fs::read_to_string(dir.join("plots/availability.svg")).unwrap();
    assert!(svg.contains("mean (dot), 95% CI (bar)"));
    assert!(svg.contains("model"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_settings_are_checked() {
    let (points, runs) = sweep_files(&["a.n"], &[(vec!["1"], "0.9", "0.8", "1")]);
    let dir = folder(
        "sweep-bad",
        &[
            ("points.csv", &points),
            ("runs.csv", &runs),
            (
                "sweep.json",
                r#"{"scenario": "demo", "plot": {"metric": "availability"}}"#,
            ),
        ],
    );
    let err = |o: SweepPlot| {
        let e = plot_dir(&dir, Some(&o)).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some(), "{e:#}");
        e.to_string()
    };
    let e = err(SweepPlot {
        metric: Some("availabilty".into()),
        ..SweepPlot::default()
    });
    assert!(
        e.contains("unknown metric 'availabilty'") && e.contains("did you mean 'availability'")
    );
    let e = err(SweepPlot {
        x: Some("a.m".into()),
        ..SweepPlot::default()
    });
    assert!(
        e.contains("unknown parameter 'a.m'") && e.contains("a.n"),
        "{e}"
    );
    let e = err(SweepPlot {
        x: Some("a.n".into()),
        series: Some("a.n".into()),
        ..SweepPlot::default()
    });
    assert!(e.contains("also on the x axis"), "{e}");
    let e = err(SweepPlot {
        metric: Some("availability".into()),
        nines: Some(false),
        reference: vec![Reference {
            label: "r".into(),
            x: vec![1.0],
            y: vec![],
        }],
        ..SweepPlot::default()
    });
    assert!(e.contains("reference 'r'"), "{e}");
    // The manifest's settings and scenario name are used when none are given.
    let files = plot_dir(&dir, None).unwrap();
    assert_eq!(files.len(), 6);
    let svg = std::fs::read_to_string(dir.join("plots/availability.svg")).unwrap();
    assert!(svg.contains("demo: availability vs a.n"));
    std::fs::write(dir.join("sweep.json"), r#"{"plot": {"metrc": 1}}"#).unwrap();
    let e = plot_dir(&dir, None).unwrap_err();
    assert!(e.downcast_ref::<BadInput>().is_some() && e.to_string().contains("metrc"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_runs_what_ifs_are_plotted_with_it() {
    let ts = format!("{TS_HEADER}0,users,1,1,1,0,0,0,1.000000,1,0,0,0,0\n");
    let summary = r#"{"scenario": "base", "duration_s": 60}"#;
    let dir = folder(
        "what-ifs",
        &[
            ("summary.json", summary),
            ("timeseries.csv", &ts),
            ("what-ifs/more-replicas/summary.json", summary),
            ("what-ifs/more-replicas/timeseries.csv", &ts),
            ("what-ifs/not-a-run/notes.txt", "nothing to plot"),
        ],
    );
    let files = plot_dir(&dir, None).unwrap();
    let w = dir.join("what-ifs/more-replicas/plots");
    assert_eq!(
        files,
        [
            dir.join("plots/availability.png"),
            dir.join("plots/availability.svg"),
            dir.join("plots/latency.png"),
            dir.join("plots/latency.svg"),
            w.join("availability.png"),
            w.join("availability.svg"),
            w.join("latency.png"),
            w.join("latency.svg"),
        ]
    );
    let svg = std::fs::read_to_string(w.join("availability.svg")).unwrap();
    assert!(svg.contains("base (what-if more-replicas): availability by client group"));
    let _ = std::fs::remove_dir_all(&dir);
}
