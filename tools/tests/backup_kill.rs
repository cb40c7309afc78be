//! `tickvault backup` and `tickvault restore` killed at random moments (seeded, 30 cycles): the
//! source store is never damaged, finished backups verify, and a restored store is complete or
//! absent.

use std::process::{Command, Stdio};
use std::time::Duration;

use tickvault::{list_backups, sample, verify, Columns, Engine, Exchange, Interval, Timestamp};
use tickvault_cli::soak::Lcg;

#[test]
fn killed_backups_and_restores_never_damage_anything() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let bars = sample::bars(200_000, 5);
    {
        let db = Engine::builder(&root)
            .segment_rows_max(20_000)
            .open()
            .unwrap();
        db.save_bar_columns("IF", Exchange::CFFEX, Interval::Minute, &bars)
            .unwrap();
        db.backup(&repo).unwrap();
    }
    let first = list_backups(&repo).unwrap().remove(0).path;
    let mut rng = Lcg(0x000b_ac0b);
    let tv = env!("CARGO_BIN_EXE_tickvault");
    let (mut complete, mut absent) = (0, 0);
    for cycle in 0..30 {
        let target = dir.path().join(format!("restore{cycle}"));
        let mut cmd = Command::new(tv);
        if cycle % 2 == 0 {
            cmd.arg("--db").arg(&root).arg("backup").arg(&repo);
        } else {
            cmd.arg("restore").arg(&first).arg("--to").arg(&target);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first restore is killed at once; the others at random within 0.3 s.
        let delay = if cycle == 1 {
            1_000
        } else {
            rng.below(300_000)
        };
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        child.wait().unwrap();
        // The source is intact.
        let report = verify(&root, cycle % 10 == 9).unwrap();
        assert!(
            report.problems.is_empty(),
            "cycle {cycle}: {:?}",
            report.problems
        );
        // Every finished backup verifies; unfinished ones are not listed.
        for b in list_backups(&repo).unwrap() {
            assert!(
                verify(&b.path, false).unwrap().problems.is_empty(),
                "cycle {cycle}: {}",
                b.name
            );
        }
        // A restored store is complete, or absent.
        if target.exists() {
            let db = Engine::open_read_only(&target).unwrap();
            let cols = db
                .load_bar_columns(
                    "IF",
                    Exchange::CFFEX,
                    Interval::Minute,
                    Timestamp::MIN,
                    Timestamp::MAX,
                )
                .unwrap();
            assert_eq!(cols.len(), bars.len(), "cycle {cycle}");
            assert_eq!(cols.close_price, bars.close_price, "cycle {cycle}");
            complete += 1;
        } else if cycle % 2 == 1 {
            absent += 1;
        }
    }
    eprintln!("restores killed: {absent} left nothing, {complete} had finished");
    assert!(absent > 0, "no restore was killed before it finished");
    let db = Engine::open_read_only(&root).unwrap();
    assert_eq!(
        db.load_bar_columns(
            "IF",
            Exchange::CFFEX,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX
        )
        .unwrap(),
        bars
    );
}
