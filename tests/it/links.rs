//! Files in the state directory are never followed (issue 23.4): a symbolic link planted where
//! the agent writes or appends a file must not make it write, as the service user, to what
//! the link points at. One link at a time, at each file the agent writes: afterwards the file
//! it points at is unchanged, and the link was either replaced by the agent's own file (an
//! atomic write renames over it) or refused with a message naming it.

use crate::util::{output_text, Sandbox};

/// Plants a link at `rel` (below the state directory) to a file outside it, runs `register`,
/// `submit`, `flush` and `status`, and checks what became of the link and its target.
fn plant_and_run(config: &str, rel: &str) {
    plant_and_submit(config, rel, "0")
}

/// [`plant_and_run`] submitting a result of `state`.
fn plant_and_submit(config: &str, rel: &str, state: &str) {
    let sb = Sandbox::new();
    sb.config(config);
    let victim = sb.write("victim", "victim's own text");
    let link = sb.state_dir().join(rel);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let mut said = String::new();
    for args in [
        &["register"][..],
        &["submit", "h-n", "a result", "", state],
        &["flush"],
        &["status"],
    ] {
        let out = sb.cmd(args).output().unwrap();
        assert!(
            out.status.code().is_some_and(|c| c < 100),
            "{rel}: {args:?}: {}",
            output_text(&out)
        );
        said.push_str(&output_text(&out));
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "victim's own text",
        "{rel}: written through the link: {said}"
    );
    let still_a_link = link.symlink_metadata().is_ok_and(|m| m.is_symlink());
    if still_a_link {
        assert!(
            said.contains(&format!(
                "could not open {}: it is a symbolic link, and the agent never writes through one",
                link.display()
            )),
            "{rel}: the link is left, so the agent must have said why: {said}"
        );
    }
}

#[test]
fn a_link_at_any_file_of_the_local_backend_and_the_queue_is_not_followed() {
    let config = "backend = \"local\"\nstateDir = \"{state}\"\n\
                  [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n\
                  [[targets.passive]]\nhost = \"h\"\nname = \"o\"\n";
    for rel in [
        "local/results.jsonl",
        "local/registrations.json",
        "queue/.lock",
        "queue/.last-error",
        "last/h-n.json",
        "registrations.json",
        "registration.json",
        "activity.json",
    ] {
        plant_and_run(config, rel);
    }
}

#[test]
fn a_link_at_any_file_of_the_prometheus_backend_is_not_followed() {
    let config = "backend = \"prometheus\"\nstateDir = \"{state}\"\n\
                  [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n";
    for rel in [
        "prometheus/lock",
        "prometheus/targets.json",
        "prometheus/nixcloud-monitoring.prom",
    ] {
        plant_and_run(config, rel);
    }
}

/// The one that mattered most: a link at `local/results.jsonl` made the local backend append
/// every result to any file. Refused now, naming it; the result stays queued.
#[test]
fn a_link_at_the_local_record_keeps_the_result_queued_and_says_why() {
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
    );
    let victim = sb.write("victim", "");
    std::fs::create_dir_all(sb.state_dir().join("local")).unwrap();
    let link = sb.state_dir().join("local/results.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = sb
        .cmd(&["submit", "h-n", "a result", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!(
            "could not open {}: it is a symbolic link, and the agent never writes through one \
             (remove it)",
            link.display()
        )),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "");
    assert_eq!(sb.files_in("queue").len(), 1, "nothing accepted is lost");
    // Once the link is gone, the next delivery records it.
    std::fs::remove_file(&link).unwrap();
    sb.cmd(&["flush"]).assert().success();
    assert!(std::fs::read_to_string(&link)
        .unwrap()
        .contains("\"output\":\"a result\""));
}

#[test]
fn a_link_at_any_file_of_the_notify_destination_is_not_followed() {
    // A webhook to a port where nothing listens: every notice waits (the marks and the queue
    // are written), and a window of 60 s holds the second change in the outbox.
    let config = format!(
        "backends = [\"local\", \"notify\"]\nstateDir = \"{{state}}\"\n\
         delivery = {{ attempts = 1 }}\n[notify]\nwindow = 60\n\
         [notify.channels.hook]\ntype = \"webhook\"\nurl = \"{}/hook\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
        crate::util::dead_url()
    );
    for rel in [
        "notify/hook/targets/h-n.json",
        "notify/hook/outbox.json",
        "notify/due/hook",
        "queue/notify-hook/.lock",
        "queue/notify-hook/.last-error",
    ] {
        // CRITICAL: a notice the dead webhook cannot take, so each file is written.
        plant_and_submit(&config, rel, "2");
    }
}

/// The silences are only read by notices (`silence` writes them, by an atomic rename): a link
/// there is not read through, and the notice waits, naming it.
#[test]
fn a_link_at_the_silences_is_not_read_and_the_notice_waits() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "backends = [\"local\", \"notify\"]\nstateDir = \"{{state}}\"\n\
         [notify.channels.hook]\ntype = \"webhook\"\nurl = \"{}/hook\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
        crate::util::dead_url()
    ));
    let victim = sb.write("victim", "{\"all\": null}");
    let link = sb.state_dir().join("notify/silences.json");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = sb
        .cmd(&["submit", "h-n", "broken", "", "2"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!(
            "could not read {}: a symbolic link",
            link.display()
        )),
        "{text}"
    );
    assert_eq!(
        sb.files_in("queue/notify-hook").len(),
        1,
        "the notice waits"
    );
}
