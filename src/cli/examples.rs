//! The "Examples:" sections of `--help` (clap `after_help`), one per
//! command, kept apart so that the argument definitions stay readable.
//! Every example runs as written against libvirt's test driver or a host.

pub const TOP: &str = "\
Examples:
  virtsync validate ./manifests
  virtsync plan ./manifests --connect qemu:///system
  virtsync apply ./manifests --yes
  virtsync explain Domain.spec.memory

Logs go to stderr: -v/-vv/-vvv for more, -q for errors only, or
VIRTSYNC_LOG=virtsync=debug (a tracing filter). Colours follow --color,
NO_COLOR and whether stdout is a terminal. `virtsync COMMAND --help`
describes each command; the man page is virtsync(1).";

pub const VALIDATE: &str = "\
Examples:
  virtsync validate ./manifests
  virtsync validate vms/web.yaml --allow-path /srv/images
  virtsync validate ./manifests --output json | jq .errors";

pub const PLAN: &str = "\
Examples:
  virtsync plan ./manifests
  virtsync plan ./manifests --connect qemu+ssh://root@host/system
  virtsync plan ./manifests --out plan.json && virtsync apply ./manifests --plan plan.json
  virtsync plan ./manifests --exit-code   # 0 nothing to do, 2 changes, 1 error
  virtsync plan ./manifests --selector app=web --output json";

pub const APPLY: &str = "\
Examples:
  virtsync apply ./manifests              # shows the plan and asks
  virtsync apply ./manifests --yes        # no question (scripts, CI)
  virtsync apply ./manifests --plan plan.json
  virtsync apply ./manifests --prune --max-deletions 2
  virtsync apply ./manifests --output json --yes   # without --yes: prints the plan, refuses (exit 1)";

pub const STATUS: &str = "\
Examples:
  virtsync status ./manifests
  virtsync status ./manifests --output json";

pub const IMPORT: &str = "\
Examples:
  virtsync import --all --out ./manifests
  virtsync import web-1 network/default --out ./manifests --adopt";

pub const RUN: &str = "\
Examples:
  virtsync run /etc/virtsync/manifests
  virtsync run ./manifests --resync 1m --prune --listen 127.0.0.1:9464
  virtsync run ./manifests --pull 1m --log-format json
  virtsync run ./manifests --host kvm-a --pull 1m";

pub const SCHEMA: &str = "\
Examples:
  virtsync schema > schemas/virtsync.schema.json";

pub const EXPLAIN: &str = "\
Examples:
  virtsync explain Domain
  virtsync explain Domain.spec.memory
  virtsync explain network.spec.ipv4";

pub const SNAPSHOT_LIST: &str = "\
Examples:
  virtsync snapshot list web-1
  virtsync snapshot list web-1 --connect qemu+ssh://root@host/system --output json";

pub const SNAPSHOT_REVERT: &str = "\
Examples:
  virtsync snapshot revert web-1 before-upgrade
  virtsync snapshot revert web-1 before-upgrade --yes";

pub const COMPLETIONS: &str = "\
Examples:
  virtsync completions bash > /etc/bash_completion.d/virtsync
  virtsync completions zsh > \"${fpath[1]}/_virtsync\"
  virtsync completions fish > ~/.config/fish/completions/virtsync.fish";

pub const DOCTOR: &str = "\
Examples:
  virtsync doctor
  virtsync doctor --connect qemu+ssh://kvm-a.example/system
  virtsync doctor ./manifests --output json";
