# services.hyperhive: the hive core (`hive core serve`) as a hardened systemd service. Each option
# is one of the core's flags (src/core/settings.ts; nix/args.nix turns them into its command
# line); secrets reach the core as systemd credentials, never through the Nix store. See
# docs/nixos.md.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    types
    literalExpression
    ;
  cfg = config.services.hyperhive;

  # `auto` takes nixos-container first wherever it works (src/core/runtime/detect.ts)
  containers = builtins.elem cfg.runtime [
    "auto"
    "nixos-container"
  ];
  unsandboxed = cfg.runtime == "process";
  # nspawn and bwrap (and `auto`, which may fall back to them) sandbox inside the core's unit
  childSandboxes = !unsandboxed && cfg.runtime != "nixos-container";
  user = if unsandboxed then "hyperhive" else "root";

  # the variables the core takes its model credentials from, and the operator token's
  secretNames = [
    "ANTHROPIC_API_KEY"
    "ANTHROPIC_AUTH_TOKEN"
    "CLAUDE_CODE_OAUTH_TOKEN"
    "HIVE_OPERATOR_TOKEN"
  ];

  listenParts = lib.splitString ":" cfg.listen;
  listenHost = lib.removeSuffix "]" (
    lib.removePrefix "[" (
      if builtins.length listenParts > 1 then lib.concatStringsSep ":" (lib.init listenParts) else ""
    )
  );
  listenPort = lib.toInt (lib.last listenParts);
  loopback =
    builtins.elem listenHost [
      ""
      "localhost"
      "::1"
    ]
    || builtins.match "127\\.[0-9]+\\.[0-9]+\\.[0-9]+" listenHost != null;

  credentials =
    lib.optional (cfg.tokenFile != null) "operator-token:${cfg.tokenFile}"
    ++ lib.optional (cfg.notify.tokenFile != null) "notify-token:${cfg.notify.tokenFile}"
    ++ lib.optional (cfg.nats.credsFile != null) "nats-creds:${cfg.nats.credsFile}"
    ++ lib.mapAttrsToList (name: file: "env-${name}:${file}") cfg.secretFiles;
  secretPaths =
    lib.filter (p: p != null) [
      cfg.tokenFile
      cfg.notify.tokenFile
      cfg.nats.credsFile
      cfg.environmentFile
    ]
    ++ builtins.attrValues cfg.secretFiles;

  # exports each secretFiles variable from its credential, then runs the core
  start = pkgs.writeShellScript "hyperhive-start" ''
    set -euo pipefail
    ${lib.concatStrings (
      lib.mapAttrsToList (name: _: ''
        ${name}="$(< "$CREDENTIALS_DIRECTORY/env-${name}")"
        export ${name}
      '') cfg.secretFiles
    )}
    exec "$@"
  '';
  args = map (
    a: if builtins.isAttrs a then "%d/${a.credential}" else utils.escapeSystemdExecArg a
  ) (import ./args.nix cfg);

  # the places nixos-container writes: container configurations and roots, their nix profiles,
  # and its lock ("-": a path that does not exist yet is not an error)
  containerPaths = [
    "-/etc/nixos-containers"
    "-/var/lib/nixos-containers"
    "-/nix/var/nix/profiles/per-container"
    "-/nix/var/nix/gcroots/per-container"
    "-/run/lock"
  ];
in
{
  options.services.hyperhive = {
    enable = mkEnableOption "the hyperhive core (`hive core serve`), a swarm of Claude Code agents on this host";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The hive (nix/package.nix).";
    };

    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/hyperhive";
      description = "`--data-dir`: the hive's database, agents' state, config repos and sockets. At most 75 bytes (agent socket paths must fit in 107).";
    };

    listen = mkOption {
      type = types.str;
      default = "127.0.0.1:7000";
      description = "`--listen`: the dashboard's address, `HOST:PORT`. Beyond loopback it needs `tokenFile`.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the dashboard's port in the firewall.";
    };

    runtime = mkOption {
      type = types.enum [
        "auto"
        "nixos-container"
        "nspawn"
        "bwrap"
        "process"
      ];
      default = "nixos-container";
      description = ''
        `--runtime`: how agents are sandboxed. `nixos-container` is the one for NixOS hosts; the
        sandboxes of nspawn and bwrap show the host's /usr, which holds almost nothing on NixOS,
        and `process` does not sandbox at all.
      '';
    };

    defaultModel = mkOption {
      type = types.str;
      default = "haiku";
      description = "`--model`: the model of agents whose agent.toml names none.";
    };

    claudeBin = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "`--claude`: the claude executable; null for the package's pinned one.";
    };

    manager = mkOption {
      type = types.bool;
      default = true;
      description = "Create and run the manager agent (false: `--no-manager`).";
    };

    tokenFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/hyperhive-token";
      description = "`--token-file`: a file whose first line is the dashboard's operator token (16 characters or more). Read by systemd as a credential; keep it out of the Nix store.";
    };

    allowedHosts = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "hive.example.org" ];
      description = "`--allowed-hosts`: more names the dashboard answers to in `Host`.";
    };

    egressAllowInternal = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "127.0.0.1:8080" ];
      description = "`--egress-allow-internal`: loopback, private or this host's `HOST:PORT` destinations the egress proxy may dial.";
    };

    notify = {
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://ntfy.sh/my-hive";
        description = "`--notify-url`: an ntfy-style webhook the core POSTs to when the operator is needed.";
      };
      tokenFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "`--notify-token-file`: a bearer token for `notify.url` (first line). Read by systemd as a credential.";
      };
    };

    hive = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "lab-01";
      description = "`--hive`: this hive's name, by which other hives of a federation reach its agents (`name@hive`); null for the host name.";
    };

    nats = {
      servers = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "nats://nats-1.example.org:4222" ];
        description = "`--nats`: the NATS servers (with JetStream) of the federation to join; empty for a hive on its own.";
      };
      credsFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "`--nats-creds`: the NATS credentials file this hive signs in with. Read by systemd as a credential.";
      };
      replicas = mkOption {
        type = types.ints.between 1 5;
        default = 1;
        description = "`--nats-replicas`: replicas of the federation's JetStream stream when this hive creates it.";
      };
    };

    standbySeconds = mkOption {
      type = types.ints.between 0 3600;
      default = 30;
      description = "`--standby-seconds`: after a turn, each agent keeps a claude started for its next turn this long, so a turn in a conversation skips claude's start-up (about 170 MiB per waiting agent; 0 turns it off).";
    };

    hiveUnreachableMinutes = mkOption {
      type = types.ints.between 1 10000;
      default = 5;
      description = "`--hive-unreachable-minutes`: another hive unheard this long, or this one cut off from NATS, raises the hive_unreachable alert.";
    };

    allowMounts = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/srv/shared-data" ];
      description = "`--allow-mount`: host directories under which an agent's `mounts` may name paths. Each must exist, not be `/`, and not lie in the data dir.";
    };

    imagesDir = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "`--images-dir`: where agents' root filesystems are built for the nspawn and bwrap runtimes (null: `<dataDir>/images`). Unused by nixos-container, whose containers get `packages` from nixpkgs.";
    };

    hostRoot = mkOption {
      type = types.bool;
      default = false;
      description = "`--host-root`: nspawn and bwrap sandboxes show this host's `/usr` instead of an image, and agents' `packages` are not installed.";
    };

    tagRetentionDays = mkOption {
      type = types.ints.between 0 99999;
      default = 30;
      description = "`--tag-retention-days`: `failed/` and `denied/` tags older than this leave the config repos.";
    };

    stuck = {
      turnMinutes = mkOption {
        type = types.ints.between 1 10000;
        default = 30;
        description = "`--stuck-turn-minutes`: a turn running this long raises an `agent_stuck` alert.";
      };
      inboxMinutes = mkOption {
        type = types.ints.between 1 10000;
        default = 5;
        description = "`--stuck-inbox-minutes`: messages waiting this long for an idle agent raise `agent_stuck`.";
      };
    };

    statsRawDays = mkOption {
      type = types.ints.between 1 365;
      default = 7;
      description = "`--stats-raw-days`: days raw telemetry samples are kept (hourly roll-ups stay 400 days).";
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        ANTHROPIC_BASE_URL = "https://llm-gateway.example.org/anthropic";
      };
      description = "Variables for the core, such as the model gateway's upstream `ANTHROPIC_BASE_URL`. They are in the Nix store: no keys here (see `secretFiles`).";
    };

    secretFiles = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        ANTHROPIC_API_KEY = "/run/secrets/anthropic-api-key";
      };
      description = "Variables for the core, each read from a file at start (systemd credentials): the model credential (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN` or `CLAUDE_CODE_OAUTH_TOKEN`). The files stay where they are; only their paths are in the Nix store.";
    };

    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/hyperhive.env";
      description = "A systemd `EnvironmentFile=` (`NAME=value` lines) for the core, for secrets managed elsewhere.";
    };

    nixpkgs = mkOption {
      type = types.path;
      default = pkgs.path;
      defaultText = literalExpression "pkgs.path";
      description = "The nixpkgs that agents' containers are built from (the core's `NIX_PATH`).";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More arguments for `hive core serve`.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = loopback || cfg.tokenFile != null;
        message = "services.hyperhive.listen = \"${cfg.listen}\" reaches beyond this host, so the dashboard needs services.hyperhive.tokenFile.";
      }
      {
        assertion = cfg.notify.tokenFile == null || cfg.notify.url != null;
        message = "services.hyperhive.notify.tokenFile is the token for notify.url, which is not set.";
      }
      {
        assertion = builtins.all (n: !(builtins.elem n secretNames)) (builtins.attrNames cfg.environment);
        message = "services.hyperhive.environment would put a credential in the Nix store; give ${lib.concatStringsSep ", " secretNames} through services.hyperhive.secretFiles.";
      }
      {
        assertion = builtins.all (p: !(lib.hasPrefix builtins.storeDir p)) secretPaths;
        message = "services.hyperhive: a secret file is in the Nix store, which every user can read; keep it elsewhere (e.g. /run/secrets).";
      }
      {
        assertion = builtins.all (n: builtins.match "[A-Za-z_][A-Za-z0-9_]*" n != null) (
          builtins.attrNames cfg.secretFiles
        );
        message = "services.hyperhive.secretFiles: each name must be an environment variable name.";
      }
      {
        assertion = builtins.stringLength cfg.dataDir <= 75;
        message = "services.hyperhive.dataDir is longer than 75 bytes: agent socket paths under it would pass 107.";
      }
      {
        assertion = builtins.all (d: !(lib.hasInfix "," d)) cfg.allowMounts;
        message = "services.hyperhive.allowMounts: a directory name with a comma cannot be passed to --allow-mount.";
      }
      {
        assertion = !containers || config.boot.enableContainers;
        message = "services.hyperhive.runtime = \"${cfg.runtime}\" needs boot.enableContainers.";
      }
    ];
    warnings = lib.optional (builtins.elem cfg.runtime [
      "nspawn"
      "bwrap"
    ]) "services.hyperhive.runtime = \"${cfg.runtime}\": its sandboxes show the host's /usr, and a NixOS host keeps its programs in /nix/store; agents are unlikely to start. Use nixos-container.";

    boot.enableContainers = mkIf containers (lib.mkDefault true);
    # the pinned claude is Anthropic's binary, run through nix-ld (nix/package.nix); this is for
    # agents on the host itself (the process runtime); containers enable it in their own config
    programs.nix-ld.enable = lib.mkDefault true;

    # `hive ctl` and `hive doctor` for the operator (as root; the data dir is root's)
    environment.systemPackages = [ cfg.package ];

    users.users.hyperhive = mkIf unsandboxed {
      isSystemUser = true;
      group = "hyperhive";
      home = cfg.dataDir;
    };
    users.groups.hyperhive = mkIf unsandboxed { };

    networking.firewall.allowedTCPPorts = lib.optional cfg.openFirewall listenPort;

    systemd.tmpfiles.rules =
      lib.optional (cfg.dataDir != "/var/lib/hyperhive") "d ${cfg.dataDir} 0700 ${user} ${user} - -"
      ++ lib.optionals containers [
        "d /etc/nixos-containers 0755 root root - -"
        "d /var/lib/nixos-containers 0700 root root - -"
        "d /nix/var/nix/profiles/per-container 0700 root root - -"
        "d /nix/var/nix/gcroots/per-container 0755 root root - -"
      ];

    systemd.services.hyperhive = {
      description = "hyperhive core";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ] ++ lib.optional containers "nix-daemon.socket";
      # nixos-container, machinectl, nix and systemctl come from the system
      path = [ pkgs.git ] ++ lib.optional containers "/run/current-system/sw";
      environment =
        cfg.environment
        // {
          XDG_CACHE_HOME = "/var/cache/hyperhive";
        }
        // lib.optionalAttrs containers {
          # nixos-container builds `<nixpkgs/nixos>`; its nix talks to the daemon, not the store
          NIX_PATH = "nixpkgs=${cfg.nixpkgs}";
          NIX_REMOTE = "daemon";
        };

      serviceConfig = lib.mkMerge [
        {
          ExecStart = "${start} ${lib.getExe cfg.package} ${lib.concatStringsSep " " args}";
          User = user;
          Group = user;
          Restart = "on-failure";
          RestartSec = "5s";
          # SIGTERM to the core alone: it stops its agents (10 s grace each), then exits
          KillMode = "mixed";
          TimeoutStopSec = "60s";
          LoadCredential = credentials;
          EnvironmentFile = lib.optional (cfg.environmentFile != null) cfg.environmentFile;

          StateDirectory = "hyperhive";
          StateDirectoryMode = "0700";
          CacheDirectory = "hyperhive";
          CacheDirectoryMode = "0700";
          # the core's working directory: its own, empty; the sockets stay in the data dir
          RuntimeDirectory = "hyperhive";
          RuntimeDirectoryMode = "0700";
          WorkingDirectory = "/run/hyperhive";
          UMask = "0077";

          # Under every runtime. No runtime needs a setuid program: nspawn and nixos-container run
          # as root (their `su` too), and NixOS's bwrap is not setuid; so no new privileges.
          NoNewPrivileges = true;
          ProtectSystem = "strict";
          ReadWritePaths =
            lib.optional (cfg.dataDir != "/var/lib/hyperhive") cfg.dataDir
            ++ lib.optional (cfg.imagesDir != null) cfg.imagesDir
            ++ cfg.allowMounts
            ++ lib.optionals containers containerPaths;
          # read-only rather than hidden: --allow-mount directories may lie under /home
          ProtectHome = "read-only";
          PrivateTmp = true;
          ProtectKernelModules = true;
          ProtectKernelLogs = true;
          ProtectClock = true;
          RestrictSUIDSGID = true;
          RestrictRealtime = true;
          LockPersonality = true;
          RemoveIPC = true;
          SystemCallArchitectures = "native";
          # netlink: systemd-nspawn sets up the container's loopback
          RestrictAddressFamilies = [
            "AF_UNIX"
            "AF_INET"
            "AF_INET6"
            "AF_NETLINK"
          ];
          # Off under every runtime: Bun's JIT writes the code it runs, and the dashboard and
          # the egress proxy use the host's network
          MemoryDenyWriteExecute = false;
          PrivateNetwork = false;
        }

        (mkIf unsandboxed {
          # process: the agents are the core's own children, as the hyperhive user
          CapabilityBoundingSet = "";
          PrivateUsers = true;
          PrivateDevices = true;
          ProtectKernelTunables = true;
          ProtectControlGroups = true;
          ProtectHostname = true;
          ProtectProc = "invisible";
          RestrictNamespaces = true;
          SystemCallFilter = [ "@system-service" ];
        })

        (mkIf (cfg.runtime == "nixos-container") {
          # nixos-container: PID 1 starts the containers (container@<name>.service), outside this
          # unit, so the core needs no devices, tunables or cgroups of its own. It stays root with
          # its capabilities, and namespaces unrestricted: nixos-container creates and updates
          # containers, and `nixos-container run` enters a container's namespaces with nsenter
          # (setns, CAP_SYS_ADMIN, CAP_SYS_PTRACE to open another uid's /proc/PID/ns).
          PrivateDevices = true;
          ProtectKernelTunables = true;
          ProtectControlGroups = true;
          ProtectHostname = true;
          RestrictNamespaces = false;
        })

        (mkIf childSandboxes {
          # nspawn and bwrap run inside this unit. Off for them:
          # - PrivateDevices: both build the sandbox's /dev from this one, and nspawn needs the
          #   device cgroup to allow its console's pty;
          # - ProtectKernelTunables: a read-only /proc/sys over /proc keeps bwrap from mounting a
          #   new /proc in a user namespace;
          # - ProtectControlGroups: nspawn makes its container's cgroup below this unit's
          #   (Delegate);
          # - ProtectHostname: its seccomp filter refuses the sethostname of both;
          # - RestrictNamespaces: both unshare every namespace;
          # - capabilities: nspawn needs root's (mounts, user namespaces, id-mapped binds).
          PrivateDevices = false;
          ProtectKernelTunables = false;
          ProtectControlGroups = false;
          ProtectHostname = false;
          RestrictNamespaces = false;
          Delegate = true;
        })
      ];
    };
  };
}
