# Every fixed name and path the module uses, in one place, so units, commands,
# credentials, docs and tests cannot drift apart. Pure data (no nixpkgs).
rec {
  # Prefix of every unit and command, as in the 2018 original.
  prefix = "nixcloud.monitoring";

  user = "nixcloud-monitoring";
  group = "nixcloud-monitoring";

  # StateDirectory= takes a name below /var/lib; the agent gets the full path
  # as `stateDir` in the config file, so wrapper commands run by users (which
  # have no $STATE_DIRECTORY) find the same queue.
  stateDirectoryName = "nixcloud-monitoring";
  stateDir = "/var/lib/${stateDirectoryName}";
  spoolDir = "${stateDir}/spool";
  # A channel with notices waiting leaves a mark here (notify/due/<channel>).
  notifyDueDir = "${stateDir}/notify/due";
  # The page backend's directory (nix/page.nix), outside the state directory:
  # the web server's group reads it.
  pageDir = "/var/lib/nixcloud-monitoring-page";

  # environment.etc key and the path the units and commands pass to --config.
  # The units use this /etc path rather than the store path so a wrapper
  # command or `nixcloud-monitoring status` always read the current config.
  etcName = "nixcloud-monitoring/config.toml";
  configPath = "/etc/${etcName}";

  # Units (without the .service/.timer/.path suffix).
  registerUnit = "${prefix}-register";
  registerOnSwitchUnit = "${prefix}-register-on-switch";
  # Templates (…@<escaped id>.service) started by a watched unit's
  # OnSuccess= and OnFailure=.
  watchUnit = "${prefix}-watch";
  watchFailureUnit = "${prefix}-watch-failure";
  flushUnit = "${prefix}-flush";
  # The notify destination's clock and held notices (timers mode), and the
  # test notice an admin starts by hand after a switch.
  notifyUnit = "${prefix}-notify";
  notifyTestUnit = "${prefix}-notify-test";
  daemonUnit = prefix;
  passiveResultUnit = escapedId: "${prefix}-passive-result-${escapedId}";

  # The command on the system PATH for a passive target: the same name as its
  # result unit, as in the original.
  passiveCommand = escapedId: "${prefix}-passive-result-${escapedId}";

  # systemd credential names (LoadCredential=<name>:<path>); the agent reads
  # $CREDENTIALS_DIRECTORY/<name> (docs/config.md).
  apiKeyCredential = "api-key";
  targetApiKeyCredential = escapedId: "api-key-${escapedId}";
  icinga2PasswordCredential = "icinga2-password";
  healthchecksApiKeyCredential = "healthchecks-api-key";

  # Packages (nixpkgs attribute names) on every passive script's PATH, besides
  # what NixOS gives every unit (coreutils, findutils, gnugrep, gnused,
  # systemd) and the target's own `path`: bash runs the script; gawk, procps
  # (ps, free, pgrep, uptime), util-linux (findmnt, lsblk, mountpoint, flock)
  # and iproute2 (ss, ip) are what checks of disks, processes, mounts and
  # sockets commonly use. README ("Passive scripts") lists them.
  scriptTools = [
    "bash"
    "gawk"
    "procps"
    "util-linux"
    "iproute2"
  ];

  # The active check kinds, in the order they are rendered and listed.
  activeKinds = [
    "check_http"
    "check_ssl_cert"
    "check_dns"
    "check_ping"
    "check_smtp"
    "check_ssh"
    "check_hydra"
  ];

  # Longest escaped id accepted. The longest name built from it is the unit
  # "nixcloud.monitoring-passive-result-<id>.service" (43 + id characters),
  # and unit and file names are limited to 255 bytes.
  maxEscapedIdLength = 200;
  # The longest check name Healthchecks takes; its checks are named by id
  # (src/config/limits.rs HEALTHCHECKS_NAME).
  maxHealthchecksName = 100;
}
