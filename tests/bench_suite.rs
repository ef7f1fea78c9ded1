//! `bench suite` at the library level, with budgets small enough for a test:
//! every task measured, every training row over every seed, files written.

use gesture_lab::bench::{SuiteBudgets, SuiteOptions, SuiteReport, run_suite};
use gesture_lab::task::TASKS;

#[test]
fn suite_reports_every_task_and_seed_and_writes_its_files() {
    let mut budgets = SuiteBudgets::quick();
    budgets.seeds = 2;
    budgets.throughput_seconds = 0.1;
    budgets.throughput_envs = 4;
    budgets.oracle_episodes = 3;
    budgets.eval_episodes = 3;
    for t in &mut budgets.training {
        // One PPO rollout (16 envs x episode length), a few hundred SAC steps.
        (t.env_steps, t.eval_interval) = match t.algo {
            gesture_lab::rl::Algo::Ppo => (1_280, 640),
            gesture_lab::rl::Algo::SacHer => (300, 100),
            // (BC counts gradient updates.)
            gesture_lab::rl::Algo::Bc => (300, 100),
        };
        if t.demonstrations > 0 {
            // A few demonstrations, a short pre-training and warm-up, small networks.
            t.demonstrations = 3;
            t.config = Some("hidden = 32\nrandom_steps = 0\nbc_pretrain_updates = 20\ncritic_warmup_updates = 20\n".into());
        }
    }
    assert!(budgets.training.iter().any(|t| t.task == "needle-pick" && t.demonstrations > 0), "the quick suite learns a grasp task from demonstrations");
    let out = std::env::temp_dir().join(format!("gesture-lab-bench-suite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let options = SuiteOptions { budgets: budgets.clone(), quick: true, threads: 2, out: out.clone() };
    let mut lines = Vec::new();
    let returned = run_suite(&options, &mut |l| lines.push(l.to_string())).unwrap();

    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    let report: SuiteReport = serde_json::from_str(&text).unwrap();
    assert_eq!(report.tasks.len(), returned.tasks.len());
    let ids: Vec<&str> = report.tasks.iter().map(|t| t.task.as_str()).collect();
    for info in TASKS {
        assert!(ids.contains(&info.name), "{} missing from {ids:?}", info.name);
    }
    assert!(report.machine.cores >= 1);
    assert_eq!(report.crate_version, env!("CARGO_PKG_VERSION"));

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mut rows = 0;
    for task in &report.tasks {
        assert!(md.contains(&format!("| {} |", task.task)), "report.md lacks {}", task.task);
        assert!(task.throughput.env_steps_per_s_1_thread > 0.0 && task.throughput.env_steps_per_s_threads > 0.0);
        assert_eq!(task.oracle.episodes, 3);
        assert!(task.oracle.success_rate >= 2.0 / 3.0, "{} oracle {}", task.task, task.oracle.success_rate);
        let expected = budgets.training.iter().filter(|b| b.task == task.task).count();
        assert!(expected >= 1, "the budgets train something on {}", task.task);
        assert_eq!(task.training.len(), expected, "{}", task.task);
        for row in &task.training {
            rows += 1;
            assert!(row.curve_png.ends_with(".png") && !row.curve_png.contains(' '), "{}", row.curve_png);
            assert_eq!(row.runs.len(), 2, "{} {:?}: one run per seed", row.task, row.algo);
            assert_eq!(row.final_success_rate.n, 2);
            let seeds: Vec<u64> = row.runs.iter().map(|r| r.seed).collect();
            assert_eq!(seeds, [0, 1]);
            for run in &row.runs {
                assert!(run.env_steps >= row.env_steps_budget, "{} steps of {}", run.env_steps, row.env_steps_budget);
                assert!(run.curve.len() >= 2, "an evaluation at the start and one at the end");
                assert_eq!(run.final_evaluation, *run.curve.last().unwrap());
                assert_eq!(run.final_evaluation.episodes, 3);
            }
            assert_eq!(row.reached_bar, row.runs.iter().filter(|r| r.env_steps_to_bar.is_some()).count());
            let s = &row.final_tip_error_mm;
            assert!(s.min <= s.mean && s.mean <= s.max, "{s:?}");
            assert_eq!(row.final_tracking_rms_mm.is_some(), ["gesture-trace", "ecm-active-track"].contains(&row.task.as_str()), "{}", row.task);
            let png = std::fs::read(out.join(&row.curve_png)).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", row.curve_png);
            assert!(md.contains(&row.curve_png));
        }
    }
    assert_eq!(rows, budgets.training.len());
    // One progress line per training run, plus two per task.
    assert_eq!(lines.len(), budgets.training.len() * budgets.seeds + 2 * TASKS.len(), "{lines:#?}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn suite_budgets_are_checked() {
    let mut budgets = SuiteBudgets::full();
    budgets.seeds = 0;
    let e = budgets.validate().unwrap_err().to_string();
    assert!(e.contains("--seeds 0"), "{e}");
    let mut budgets = SuiteBudgets::quick();
    budgets.training[0].task = "no-such-task".into();
    assert!(budgets.validate().unwrap_err().to_string().contains("no-such-task"));
    // A row that clones nothing, or PPO given demonstrations, is refused by name.
    let mut budgets = SuiteBudgets::full();
    let bc = budgets.training.iter_mut().find(|t| t.algo == gesture_lab::rl::Algo::Bc).expect("the full suite clones demonstrations");
    bc.demonstrations = 0;
    let e = budgets.validate().unwrap_err().to_string();
    assert!(e.contains("needle-pick bc (100 demos)") && e.contains("needs demonstrations"), "{e}");
    // A row's config is checked before anything runs.
    let mut budgets = SuiteBudgets::quick();
    let row = budgets.training.iter_mut().find(|t| t.demonstrations > 0).unwrap();
    row.config = Some("q_filter = 3\n".into());
    assert!(budgets.validate().unwrap_err().to_string().contains("q_filter"));
    // Every task has something to train in both suites, and every row's config parses.
    for b in [SuiteBudgets::full(), SuiteBudgets::quick()] {
        b.validate().unwrap();
        for info in TASKS {
            assert!(b.training.iter().any(|t| t.task == info.name), "{}", info.name);
        }
    }
}
