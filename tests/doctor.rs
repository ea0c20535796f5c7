//! `virtsync doctor` without a daemon: a socket that does not exist and a
//! URI that names no driver are each explained with their cause and fix,
//! exit 1; libvirt's test driver answers, exit 0. (Refused and healthy
//! daemons: doctor_daemon.)

mod common;

use std::time::Duration;

use common::{doctor_finding, output_text, virtsync};

/// `virtsync doctor ARGS... --output json`: exit code and the report.
fn doctor(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let (out, _) = virtsync(&all, Duration::from_secs(60));
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}):\n{}", output_text(&out)));
    (out.status.code(), report)
}

#[test]
fn a_socket_that_does_not_exist_is_named_with_how_to_start_the_daemon() {
    let uri = "qemu+unix:///system?socket=/nonexistent/virtsync-doctor/libvirt-sock";
    let (code, report) = doctor(&["--connect", uri]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["reachable"], false);
    let f = doctor_finding(&report, "connection.socket");
    assert_eq!(f["status"], "problem");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("socket /nonexistent/virtsync-doctor/libvirt-sock does not exist"),
        "{message}"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("systemctl enable --now"),
        "{f}"
    );
}

#[test]
fn a_uri_that_names_no_driver_says_so() {
    let (code, report) = doctor(&["--connect", "qemuu:///system"]);
    assert_eq!(code, Some(1), "{report:#}");
    let f = doctor_finding(&report, "connection.uri");
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("`qemuu` is not a libvirt driver"));
    assert!(f["fix"].as_str().unwrap().contains("qemu:///system"));
}

#[test]
fn the_test_driver_answers_and_its_report_is_stable() {
    let (code, report) = doctor(&["--connect", "test:///default"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["problems"], 0);
    let checks: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    let mut sorted = checks.clone();
    sorted.sort();
    assert_eq!(checks, sorted, "findings are sorted by check");
    assert!(doctor_finding(&report, "libvirt")["message"]
        .as_str()
        .unwrap()
        .contains("libvirt "));
    // Text: one line per finding, then the summary.
    let (out, _) = virtsync(
        &["doctor", "--connect", "test:///default"],
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), checks.len() + 1, "{text}");
    assert!(
        text.lines().last().unwrap().starts_with("doctor: "),
        "{text}"
    );
}
