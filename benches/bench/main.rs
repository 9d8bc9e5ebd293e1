//! Side-by-side benchmark suite (issue 9): every row runs ours and its reference in the
//! same invocation on the same machine, prints one table and writes `target/bench/report.json`.
//!
//! `scripts/bench [--quick] [--only 1,3]` runs it (`cargo bench --bench bench -- ARGS`).
//! Rows whose feature is not built yet print `n/a (not built yet)`; a row that fails to
//! produce numbers makes the run exit 1 (that is what `--quick` asserts in `scripts/test`).

mod rows;
mod util;

use std::{
    fs,
    panic::{AssertUnwindSafe, catch_unwind},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use serde_json::json;

/// Run-wide settings.
pub struct Ctx {
    pub quick: bool,
    /// `nr_concurrent_plugins` and the parallelism of the raw/reference helpers.
    pub concurrency: usize,
}

impl Ctx {
    /// `quick` value in quick mode, `full` otherwise.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// How a row ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Measured,
    NotBuilt(String),
    Failed(String),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: u8,
    /// Sub-row letter (`1a`, `1b`), empty for most rows.
    pub sub: &'static str,
    pub row: String,
    pub ours: Option<f64>,
    pub reference: Option<f64>,
    /// What the reference is (`raw spawn`, `smoker-orig`, `nrpe`, …) or why it is missing.
    pub ref_label: String,
    pub unit: &'static str,
    /// >1 means ours is better, whatever the unit.
    pub ratio: Option<f64>,
    pub goal: String,
    pub met: Option<bool>,
    pub note: String,
    pub status: Status,
}

impl Row {
    pub fn new(id: u8, row: &str, unit: &'static str, goal: &str) -> Row {
        Row {
            id,
            sub: "",
            row: row.to_string(),
            ours: None,
            reference: None,
            ref_label: String::new(),
            unit,
            ratio: None,
            goal: goal.to_string(),
            met: None,
            note: String::new(),
            status: Status::Measured,
        }
    }

    pub fn sub_row(mut self, sub: &'static str) -> Row {
        self.sub = sub;
        self
    }

    /// `1a`: the id and the sub-row letter.
    pub fn label(&self) -> String {
        format!("{}{}", self.id, self.sub)
    }

    pub fn ours(mut self, v: f64) -> Row {
        self.ours = Some(v);
        self
    }

    pub fn reference(mut self, label: &str, v: Option<f64>) -> Row {
        self.ref_label = label.to_string();
        self.reference = v;
        self
    }

    pub fn ratio(mut self, r: Option<f64>) -> Row {
        self.ratio = r.filter(|r| r.is_finite());
        self
    }

    pub fn met(mut self, m: Option<bool>) -> Row {
        self.met = m;
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Row {
        let n = n.into();
        if !n.is_empty() {
            if !self.note.is_empty() {
                self.note.push_str("; ");
            }
            self.note.push_str(&n);
        }
        self
    }
}

/// Formats a value for the table: 3 significant-ish digits.
fn fmt_value(v: f64, unit: &str) -> String {
    let num = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if unit.is_empty() {
        num
    } else {
        format!("{num} {unit}")
    }
}

struct RowDef {
    id: u8,
    name: &'static str,
    titles: &'static [&'static str],
    run: fn(&Ctx) -> anyhow::Result<Vec<Row>>,
}

const ROWS: &[RowDef] = &[
    RowDef {
        id: 1,
        name: "throughput",
        titles: &["check throughput Command:", "check throughput Argv:"],
        run: rows::throughput::run,
    },
    RowDef {
        id: 2,
        name: "scheduler",
        titles: &["scheduler p99 lateness", "scheduler daemon CPU"],
        run: rows::scheduler::run,
    },
    RowDef {
        id: 3,
        name: "rest+memory",
        titles: &[
            "REST GET /plugins",
            "REST p99 latency",
            "memory idle vs smoker-orig",
            "memory idle vs nrpe",
        ],
        run: rows::rest::run,
    },
    RowDef {
        id: 5,
        name: "metrics",
        titles: &["metrics /metrics render"],
        run: rows::metrics::run,
    },
    RowDef {
        id: 6,
        name: "nrpe",
        titles: &["NRPE check_nrpe calls/s", "NRPE RSS"],
        run: rows::nrpe::run,
    },
    RowDef {
        id: 7,
        name: "nsca",
        titles: &[
            "NSCA delivery",
            "NSCA sender CPU/result",
            "NSCA sender wall",
        ],
        run: rows::nsca::run,
    },
    RowDef {
        id: 8,
        name: "fan-out",
        titles: &["fan-out vs slowest check", "fan-out vs smoker-orig cli"],
        run: rows::fanout::run,
    },
    RowDef {
        id: 9,
        name: "icinga",
        titles: &["Icinga 2 delivery", "Icinga 2 daemon CPU/result"],
        run: rows::icinga::run,
    },
    RowDef {
        id: 10,
        name: "status page",
        titles: &[
            "UI first render (1000 checks)",
            "UI filter keystroke",
            "UI first view bytes",
        ],
        run: rows::ui::run,
    },
    RowDef {
        id: 11,
        name: "python",
        titles: &["Python check run wall", "Python 100 checks @10 s CPU"],
        run: rows::python::run,
    },
    RowDef {
        id: 12,
        name: "history",
        titles: &[
            "RSS with history: per kept result",
            "RSS with history: History 100",
            "RSS with history: History 1",
        ],
        run: rows::history::run,
    },
    RowDef {
        id: 13,
        name: "soak",
        titles: &[
            "soak RSS slope",
            "soak fds and threads",
            "soak store file",
            "soak zombies",
            "soak NSCA results lost",
        ],
        run: rows::soak::run,
    },
    RowDef {
        id: 22,
        name: "builtin",
        titles: &["built-in check_load"],
        run: rows::builtin::run,
    },
];

fn usage() -> &'static str {
    "usage: scripts/bench [--quick] [--only N[,N…]] [--concurrency N]\n\
     rows: 1 throughput (1a Command:, 1b Argv:), 2 scheduler, 3 REST + 4 memory, 5 metrics, 6 NRPE,\n\
     7 NSCA, 8 fan-out, 9 Icinga 2, 10 status page in chromium, 11 Python, 12 RSS with history,\n\
     13 soak, 22 built-in check_load"
}

fn main() -> ExitCode {
    let mut quick = false;
    let mut only: Option<Vec<u8>> = None;
    let mut concurrency = 8;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            // cargo bench passes --bench to harness-less targets.
            "--bench" => {}
            "--only" => {
                let list = args.next().unwrap_or_default();
                only = Some(
                    list.split(',')
                        .filter_map(|s| s.trim().parse().ok())
                        // Rows 3 and 4 are measured together.
                        .map(|n| if n == 4 { 3 } else { n })
                        .collect(),
                );
            }
            "--concurrency" => {
                concurrency = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(concurrency);
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("bench: unknown argument {other}\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    let ctx = Ctx { quick, concurrency };
    let started = Instant::now();
    let mut table: Vec<Row> = Vec::new();
    for def in ROWS {
        if only.as_ref().is_some_and(|o| !o.contains(&def.id)) {
            continue;
        }
        eprintln!("bench: row {} ({}) …", def.id, def.name);
        let t = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| (def.run)(&ctx)));
        let res = match res {
            Ok(r) => r,
            Err(p) => Err(anyhow::anyhow!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        match res {
            Ok(rows) => table.extend(rows),
            Err(e) => {
                let status = match e.downcast_ref::<util::NotBuilt>() {
                    Some(nb) => Status::NotBuilt(nb.0.clone()),
                    None => Status::Failed(format!("{e:#}")),
                };
                eprintln!("bench: row {} ({}): {:?}", def.id, def.name, status);
                for (i, title) in def.titles.iter().enumerate() {
                    let id = if def.id == 3 && i >= 2 { 4 } else { def.id };
                    let mut r = Row::new(id, title, "", "");
                    if def.id == 1 {
                        r.sub = ["a", "b"][i.min(1)];
                    }
                    r.status = status.clone();
                    table.push(r);
                }
            }
        }
        eprintln!(
            "bench: row {} done in {:.1} s",
            def.id,
            t.elapsed().as_secs_f64()
        );
    }
    print_table(&table, &ctx, started.elapsed().as_secs_f64());
    if let Err(e) = write_report(&table, &ctx, started.elapsed().as_secs_f64()) {
        eprintln!("bench: cannot write report: {e:#}");
        return ExitCode::FAILURE;
    }
    let failed: Vec<&Row> = table
        .iter()
        .filter(|r| {
            matches!(r.status, Status::Failed(_))
                || (r.status == Status::Measured && r.ours.is_none())
        })
        .collect();
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for r in failed {
            eprintln!(
                "bench: row {} {:?} produced no number: {:?}",
                r.id, r.row, r.status
            );
        }
        ExitCode::FAILURE
    }
}

fn print_table(rows: &[Row], ctx: &Ctx, secs: f64) {
    let mut cells: Vec<[String; 7]> = vec![[
        "#".into(),
        "row".into(),
        "ours".into(),
        "reference".into(),
        "ratio".into(),
        "goal".into(),
        "met?".into(),
    ]];
    for r in rows {
        let (ours, reference, ratio, met) = match &r.status {
            Status::NotBuilt(_) => (
                "n/a (not built yet)".into(),
                String::new(),
                String::new(),
                "—".into(),
            ),
            Status::Failed(e) => {
                let short: String = e.lines().next().unwrap_or("").chars().take(60).collect();
                (
                    format!("FAILED: {short}"),
                    String::new(),
                    String::new(),
                    "—".into(),
                )
            }
            Status::Measured => (
                r.ours
                    .map(|v| fmt_value(v, r.unit))
                    .unwrap_or_else(|| "—".into()),
                match r.reference {
                    Some(v) => format!("{} ({})", fmt_value(v, r.unit), r.ref_label),
                    None if r.ref_label.is_empty() => "—".into(),
                    None => r.ref_label.clone(),
                },
                r.ratio
                    .map(|x| format!("{x:.2}×"))
                    .unwrap_or_else(|| "—".into()),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "—".into(),
                },
            ),
        };
        cells.push([
            r.label(),
            r.row.clone(),
            ours,
            reference,
            ratio,
            r.goal.clone(),
            met,
        ]);
    }
    let mut width = [0usize; 7];
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            width[i] = width[i].max(s.chars().count());
        }
    }
    let line = |c: &[String; 7]| {
        let parts: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = width[i]))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    println!();
    println!(
        "smoker benchmarks ({} mode, {} cores, concurrency {}, {:.0} s); ratio > 1 means ours is better",
        if ctx.quick { "quick" } else { "full" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        ctx.concurrency,
        secs
    );
    println!("{}", line(&cells[0]));
    let sep: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", sep.join("-|-"));
    for c in &cells[1..] {
        println!("{}", line(c));
    }
    let notes: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.status {
            Status::Measured if !r.note.is_empty() => {
                Some(format!("  {} {}: {}", r.label(), r.row, r.note))
            }
            Status::NotBuilt(why) => Some(format!("  {} {}: {why}", r.label(), r.row)),
            Status::Failed(e) => Some(format!(
                "  {} {}: {}",
                r.label(),
                r.row,
                e.replace('\n', "\n      ")
            )),
            _ => None,
        })
        .collect();
    if !notes.is_empty() {
        println!("notes:");
        for n in notes {
            println!("{n}");
        }
    }
    println!("report: {}", report_path().display());
}

fn report_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(util::ROOT).join("target"));
    target.join("bench").join("report.json")
}

fn write_report(rows: &[Row], ctx: &Ctx, secs: f64) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let (status, reason) = match &r.status {
                Status::Measured => ("measured", None),
                Status::NotBuilt(w) => ("not_built", Some(w.clone())),
                Status::Failed(e) => ("failed", Some(e.clone())),
            };
            json!({
                "id": r.id, "sub": r.sub, "row": r.row, "unit": r.unit,
                "ours": r.ours, "reference": r.reference, "referenceLabel": r.ref_label,
                "ratio": r.ratio, "goal": r.goal, "met": r.met,
                "status": status, "reason": reason, "note": r.note,
            })
        })
        .collect();
    let report = json!({
        "mode": if ctx.quick { "quick" } else { "full" },
        "finishedAt": chrono::Local::now().to_rfc3339(),
        "seconds": secs,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "concurrency": ctx.concurrency,
        "loadavg": fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "rows": rows,
    });
    let path = report_path();
    fs::create_dir_all(path.parent().expect("report path has a parent"))?;
    fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    Ok(())
}
