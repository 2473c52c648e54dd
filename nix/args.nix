# The command line of `hive core serve` for the settings of services.hyperhive (nix/module.nix):
# one flag per setting, as src/core/settings.ts reads them. Builtins only, so the tests evaluate
# it with `nix-instantiate --eval` and no nixpkgs (test/nix/nix-files.test.ts).
#
# A file the service receives as a systemd credential is given as { credential = "ID"; }: the
# module writes it as `%d/ID`, systemd's path of that credential for the running service.
cfg:
let
  when = cond: list: if cond then list else [ ];
  flag = name: value: [ "--${name}" (toString value) ];
  commas = builtins.concatStringsSep ",";
in
[ "core" "serve" ]
++ flag "data-dir" cfg.dataDir
++ flag "listen" cfg.listen
++ flag "runtime" cfg.runtime
++ flag "model" cfg.defaultModel
++ when (cfg.claudeBin != null) (flag "claude" cfg.claudeBin)
++ when (!cfg.manager) [ "--no-manager" ]
++ flag "tag-retention-days" cfg.tagRetentionDays
++ when (cfg.tokenFile != null) [ "--token-file" { credential = "operator-token"; } ]
++ when (cfg.allowedHosts != [ ]) (flag "allowed-hosts" (commas cfg.allowedHosts))
++ when (cfg.egressAllowInternal != [ ]) (flag "egress-allow-internal" (commas cfg.egressAllowInternal))
++ when (cfg.notify.url != null) (flag "notify-url" cfg.notify.url)
++ when (cfg.notify.tokenFile != null) [ "--notify-token-file" { credential = "notify-token"; } ]
++ flag "stuck-turn-minutes" cfg.stuck.turnMinutes
++ flag "stuck-inbox-minutes" cfg.stuck.inboxMinutes
++ flag "stats-raw-days" cfg.statsRawDays
++ flag "standby-seconds" cfg.standbySeconds
++ builtins.concatMap (dir: flag "allow-mount" dir) cfg.allowMounts
++ when (cfg.imagesDir != null) (flag "images-dir" cfg.imagesDir)
++ when cfg.hostRoot [ "--host-root" ]
++ when (cfg.hive != null) (flag "hive" cfg.hive)
++ when (cfg.nats.servers != [ ]) (flag "nats" (commas cfg.nats.servers))
++ when (cfg.nats.credsFile != null) [ "--nats-creds" { credential = "nats-creds"; } ]
++ when (cfg.nats.servers != [ ]) (flag "nats-replicas" cfg.nats.replicas)
++ when (cfg.nats.servers != [ ]) (flag "hive-unreachable-minutes" cfg.hiveUnreachableMinutes)
++ cfg.extraArgs
