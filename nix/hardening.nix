# The sandbox every nixcloud.monitoring unit runs in (serviceConfig keys).
#
# The agent only needs: its own state directory (StateDirectory=, writable
# under ProtectSystem=strict), the network (AF_INET/AF_INET6, and AF_UNIX for
# nscd/systemd-resolved name lookups and sd_notify), its credentials
# (LoadCredential=, readable although the rest of /run is not writable) and
# /etc for the config, CA roots and resolv.conf. Everything else is closed,
# the way well-kept nixpkgs modules do it (see e.g. gatus.nix, harmonia).
#
# Passive targets run admin-written scripts inside the result unit (or the
# daemon). What a script may need beyond this (raw sockets for ping, /home,
# devices, a JIT that needs W+X memory) is opened per target with
# `targets.passive.*.serviceConfig`; keys given there replace the ones below.
{
  NoNewPrivileges = true;
  ProtectSystem = "strict";
  ProtectHome = true;
  PrivateTmp = true;
  PrivateDevices = true;
  ProtectKernelTunables = true;
  ProtectKernelModules = true;
  ProtectKernelLogs = true;
  ProtectControlGroups = true;
  ProtectClock = true;
  ProtectHostname = true;
  ProtectProc = "invisible";
  RestrictNamespaces = true;
  LockPersonality = true;
  RestrictRealtime = true;
  RestrictSUIDSGID = true;
  MemoryDenyWriteExecute = true;
  RemoveIPC = true;
  SystemCallArchitectures = "native";
  SystemCallFilter = [
    "@system-service"
    "~@privileged"
  ];
  SystemCallErrorNumber = "EPERM";
  CapabilityBoundingSet = "";
  AmbientCapabilities = "";
  RestrictAddressFamilies = [
    "AF_UNIX"
    "AF_INET"
    "AF_INET6"
  ];
  # Files the agent creates (queue, spool, last results) stay within the
  # group; the spool directory is shared with group members (mode 2770).
  UMask = "0007";
}
