{
  description = "hyperhive: a swarm of Claude Code agents on one host";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      # `nix develop`: Bun, git and sqlite for working on the hive; `bun install` fetches the rest
      # (including the pinned claude CLI) from the lockfile.
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.bun pkgs.nodejs_22 pkgs.git pkgs.sqlite pkgs.chromium ];
          shellHook = ''
            export HIVE_DATA_DIR="''${HIVE_DATA_DIR:-$PWD/.hive}"
          '';
        };
      });
    };
}
