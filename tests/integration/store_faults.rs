//! Store faults (issue 18): `state_dir` on a small tmpfs that fills up. smokerd keeps
//! answering, `/healthz` is degraded and the results wait in memory; once the tmpfs is
//! grown (`remount,size=`) the store heals itself within 70 s, every NSCA result made
//! during the fault reaches the real `nsca`, and after a restart the history across
//! the fault is complete.

use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use nix::mount::{MntFlags, MsFlags};

use crate::{
    common::{TestDaemon, free_port, temp_dir, wait_until},
    nsca::{NscaServer, PASSWORD, seqs},
};

/// A tmpfs mounted in a private mount namespace of this test process (nextest runs
/// each test in its own), so only the smokerd started here sees it; unmounted (lazily)
/// on drop, whatever happened.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
            .map_err(|e| format!("make / private: {e}"))?;
        let dir = temp_dir();
        let options = format!("size={size},mode=0750");
        nix::mount::mount(
            Some("smoker-state"),
            dir.path(),
            Some("tmpfs"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| format!("mount tmpfs: {e}"))?;
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `mount -o remount,size=…`.
    fn grow(&self, size: &str) {
        let options = format!("size={size}");
        nix::mount::mount(
            None::<&str>,
            self.dir.path(),
            Some("tmpfs"),
            MsFlags::MS_REMOUNT,
            Some(options.as_str()),
        )
        .expect("remount the tmpfs bigger");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), MntFlags::MNT_DETACH);
    }
}

/// Writes a file into `dir` until the file system is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create filler");
    let chunk = vec![0xa5u8; 4096];
    while file
        .write_all(&chunk)
        .and_then(|()| file.sync_data())
        .is_ok()
    {}
    path
}

/// The `seq N` of the last result of `tick`.
fn last_seq(daemon: &TestDaemon) -> u64 {
    daemon.last_result("tick")["output"]
        .as_str()
        .and_then(|out| out.strip_prefix("seq "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn health(daemon: &TestDaemon) -> (u16, serde_json::Value) {
    let response = daemon.get("/healthz");
    (response.status, response.json())
}

fn config(state_dir: &Path, port: u16) -> String {
    format!(
        "state_dir: {state}
actions:
  nagios:
    Nsca:
      host: 127.0.0.1
      port: {port}
      password: \"{PASSWORD}\"
      encryption: 3des
      host_name: web-1
plugins:
  tick:
    Command: \"n=$(cat {{dir}}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{dir}}/n; echo seq $n\"
    Interval: 1
    History: 1000
    Action: nagios
  bulk:
    Command: \"head -c 20000 /dev/zero | tr '\\\\0' x; echo\"
    Interval: 1
    History: 1000
",
        state = state_dir.display()
    )
}

/// Starts smokerd with `state_dir` on `tmpfs` and an NSCA action into `nsca` (on
/// `port`), then fills the tmpfs until `/healthz` is degraded. Returns the daemon, the
/// filler file and the `tick` seq when the fault came.
fn degraded_daemon(tmpfs: &Tmpfs, nsca: &NscaServer, port: u16) -> (TestDaemon, PathBuf, u64) {
    let daemon = TestDaemon::start(&config(tmpfs.path(), port));
    assert!(
        wait_until(Duration::from_secs(30), || seqs(&nsca.lines()).len() >= 2),
        "no delivery before the fault; stderr:\n{}",
        daemon.stderr()
    );
    assert_eq!(health(&daemon).0, 200, "{:?}", health(&daemon).1);

    // Fill the disk: the store's writes fail, smokerd keeps serving.
    let filler = fill(tmpfs.path());
    let degraded = wait_until(Duration::from_secs(60), || health(&daemon).0 == 503);
    let (_, body) = health(&daemon);
    assert!(
        degraded,
        "never degraded: {body}; stderr:\n{}",
        daemon.stderr()
    );
    assert_eq!(body["store"], "memory", "{body}");
    assert!(body["storeHeld"]["results"].as_u64().is_some(), "{body}");
    let fault_seq = last_seq(&daemon);
    (daemon, filler, fault_seq)
}

/// The tmpfs, or why the test is skipped.
fn tmpfs() -> Option<Tmpfs> {
    match Tmpfs::mount("3m") {
        Ok(tmpfs) => Some(tmpfs),
        Err(e) => {
            eprintln!("SKIPPED store_faults: cannot mount a tmpfs as state_dir ({e}); run as root");
            None
        }
    }
}

/// The `seq N` outputs of the runs of `tick` kept in the store.
fn kept_seqs(daemon: &TestDaemon) -> BTreeSet<u64> {
    let runs = daemon.get_json("/v2/plugins/tick/runs?limit=10000");
    runs.as_array()
        .expect("runs")
        .iter()
        .filter_map(|run| run["output"].as_str()?.strip_prefix("seq ")?.parse().ok())
        .collect()
}

#[test]
fn a_full_state_dir_heals_once_it_grows() {
    let Some(tmpfs) = tmpfs() else { return };
    let port = free_port();
    let nsca = NscaServer::start_on(port, 3);
    let (mut daemon, filler, fault_seq) = degraded_daemon(&tmpfs, &nsca, port);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(daemon.get("/plugins").status, 200, "the API answers");
    assert!(last_seq(&daemon) >= fault_seq + 3, "checks keep running");
    // The run log lives in the broken file: a JSON 503 until the store heals.
    let runs = daemon.get("/v2/plugins/tick/runs");
    assert_eq!(runs.status, 503, "{}", runs.body);
    assert!(runs.json()["message"].as_str().is_some(), "{}", runs.body);
    let (status, body) = health(&daemon);
    assert_eq!(status, 503, "still degraded while full: {body}");
    let during = seqs(&nsca.lines())
        .into_iter()
        .filter(|n| *n > fault_seq)
        .count();
    eprintln!("during the fault: {body}; {during} NSCA results delivered from memory");

    // Grow it: the store re-opens by itself and writes back what it held.
    tmpfs.grow("64m");
    let grown = Instant::now();
    let healed = wait_until(Duration::from_secs(70), || health(&daemon).0 == 200);
    let healed_in = grown.elapsed();
    assert!(
        healed,
        "not healed within 70 s: {}; stderr:\n{}",
        health(&daemon).1,
        daemon.stderr()
    );
    eprintln!("store healed {healed_in:?} after the tmpfs grew");
    let metrics = daemon.get("/metrics").body;
    assert!(
        metrics.contains("smoker_store_faults_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("smoker_store_persistent 1\n"), "{metrics}");
    let stderr = daemon.stderr();
    assert_eq!(stderr.matches("Store write failed").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("Store re-opened").count(), 1, "{stderr}");

    // Every NSCA result made before, during and after the fault arrives, once.
    let known = last_seq(&daemon);
    let arrived = wait_until(Duration::from_secs(60), || {
        seqs(&nsca.lines()).contains(&known)
    });
    let got = seqs(&nsca.lines());
    assert!(arrived, "seq {known} never arrived; got {got:?}");
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = (1..=known).filter(|n| !unique.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "lost {missing:?} (fault from seq {fault_seq})"
    );
    assert_eq!(unique.len(), got.len(), "duplicates: {got:?}");
    eprintln!("fault from seq {fault_seq}; all {known} NSCA results arrived once");

    // After a restart the history across the fault is complete.
    std::fs::remove_file(filler).expect("remove the filler");
    daemon.stop();
    daemon.restart();
    let kept = kept_seqs(&daemon);
    let missing: Vec<u64> = (1..=known).filter(|n| !kept.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "history lost {missing:?} across the fault"
    );
    drop(daemon);
    drop(nsca);
}

/// A graceful stop while degraded makes one last re-open and write: the tmpfs grows
/// while the next re-open is seconds away, SIGTERM comes at once, and after a restart
/// nothing made during the fault is missing.
#[test]
fn a_stop_while_degraded_writes_back_what_it_held() {
    let Some(tmpfs) = tmpfs() else { return };
    let port = free_port();
    let nsca = NscaServer::start_on(port, 3);
    let (mut daemon, filler, fault_seq) = degraded_daemon(&tmpfs, &nsca, port);
    // Failed re-opens at about 1, 3 and 7 s: the next one is due at about 15 s.
    std::thread::sleep(Duration::from_secs(9));
    tmpfs.grow("64m");
    let (status, body) = health(&daemon);
    assert_eq!(status, 503, "healed before the stop: {body}");
    let known = last_seq(&daemon);
    assert!(known > fault_seq, "results made during the fault");
    daemon.stop();
    let stderr = daemon.stderr();
    assert_eq!(stderr.matches("Store re-opened").count(), 1, "{stderr}");
    std::fs::remove_file(filler).expect("remove the filler");
    daemon.restart();
    let kept = kept_seqs(&daemon);
    let missing: Vec<u64> = (1..=known).filter(|n| !kept.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "lost {missing:?} at the stop; stderr:\n{stderr}"
    );
    drop(daemon);
    drop(nsca);
}
