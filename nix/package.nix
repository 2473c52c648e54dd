# The hive as a Nix package: `hive` runs src/main.ts with the pinned Bun, the node_modules that
# bun.lock pins (the Claude Code CLI among them), and git, bubblewrap and systemd on its PATH as a
# fallback after the host's own. `nix build` (flake.nix), or `pkgs.callPackage ./nix/package.nix { }`.
#
# Claude Code is unfree; its derivation (passthru.claude) says so, so nixpkgs must allow
# "claude-code" (the flake does it for its own packages; see docs/nixos.md).
{
  lib,
  stdenv,
  stdenvNoCC,
  fetchurl,
  autoPatchelfHook,
  makeBinaryWrapper,
  cacert,
  git,
  bubblewrap,
  systemd,
}:
let
  pins = import ./pins.nix;
  system = stdenvNoCC.hostPlatform.system;
  unsupported = throw "hyperhive: nix/pins.nix has no Bun and node_modules for ${system}, only for x86_64-linux and aarch64-linux";
  bunPin = pins.bun.${system} or unsupported;
  modulesPin = pins.nodeModules.${system} or unsupported;
  packageJson = lib.importJSON ../package.json;
  platforms = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  lockMatches =
    builtins.hashFile "sha256" ../bun.lock == pins.bunLock
    || throw "hyperhive: bun.lock is not the one nix/pins.nix was made from; update bunLock and the nodeModules hashes there (its comment says how)";

  # Bun from the npm registry's tarball of its Linux build, made to run on NixOS's glibc.
  bun = stdenvNoCC.mkDerivation {
    pname = "bun";
    inherit (pins.bun) version;
    src = fetchurl {
      url = "https://registry.npmjs.org/${bunPin.npm}/-/${baseNameOf bunPin.npm}-${pins.bun.version}.tgz";
      inherit (bunPin) hash;
    };
    nativeBuildInputs = [ autoPatchelfHook ];
    dontConfigure = true;
    dontBuild = true;
    dontStrip = true;
    installPhase = ''
      runHook preInstall
      install -Dm755 bin/bun $out/bin/bun
      ln -s bun $out/bin/bunx
      runHook postInstall
    '';
    meta = {
      description = "Bun ${pins.bun.version}, the JavaScript runtime the hive runs on";
      homepage = "https://bun.sh";
      license = lib.licenses.mit;
      mainProgram = "bun";
      inherit platforms;
    };
  };

  # `bun install --frozen-lockfile` of bun.lock, as a fixed-output derivation: it may reach the
  # registry, and its output must hash to nix/pins.nix's value. The output holds node_modules/
  # itself, so that packages found through the hive's node_modules link resolve their own
  # dependencies beside them.
  nodeModules = stdenvNoCC.mkDerivation {
    name = "hyperhive-node-modules";
    src =
      assert lockMatches;
      lib.fileset.toSource {
        root = ../.;
        fileset = lib.fileset.unions [
          ../package.json
          ../bun.lock
        ];
      };
    nativeBuildInputs = [
      bun
      cacert
    ];
    dontConfigure = true;
    buildPhase = ''
      runHook preBuild
      export HOME=$TMPDIR BUN_INSTALL_CACHE_DIR=$TMPDIR/bun-cache
      bun install --frozen-lockfile --production --no-progress --cpu=${modulesPin.cpu} --os=linux
      runHook postBuild
    '';
    installPhase = ''
      runHook preInstall
      mkdir $out
      mv node_modules $out/
      runHook postInstall
    '';
    # the output must not refer to the store: no shebang patching, no stripping
    dontFixup = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = modulesPin.hash;
    impureEnvVars = lib.fetchers.proxyImpureEnvVars;
  };

  # The Claude Code CLI bun.lock pins: Anthropic's binary, unpatched (patchelf's rewrite of such
  # a binary can break it), run through nix-ld's loader stub at the binary's own interpreter path
  # (programs.nix-ld, which the module and every agent container enable), pointed at this glibc.
  claude = stdenvNoCC.mkDerivation {
    pname = "claude-code";
    version = packageJson.dependencies."@anthropic-ai/claude-code";
    dontUnpack = true;
    nativeBuildInputs = [ makeBinaryWrapper ];
    installPhase = ''
      runHook preInstall
      makeWrapper ${nodeModules}/node_modules/.bin/claude $out/bin/claude \
        --set NIX_LD ${stdenv.cc.bintools.dynamicLinker}
      runHook postInstall
    '';
    meta = {
      description = "Claude Code ${packageJson.dependencies."@anthropic-ai/claude-code"}, as the hive pins it";
      homepage = "https://github.com/anthropics/claude-code";
      license = lib.licenses.unfree;
      sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
      mainProgram = "claude";
      inherit platforms;
    };
  };
in
stdenvNoCC.mkDerivation {
  pname = "hyperhive";
  inherit (packageJson) version;
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../bun.lock
      ../tsconfig.json
      ../src
      ../views
      ../static
      ../prompts
    ];
  };
  nativeBuildInputs = [ makeBinaryWrapper ];
  dontConfigure = true;
  dontBuild = true;
  dontPatchShebangs = true;
  dontStrip = true;
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/hyperhive
    cp -r package.json bun.lock tsconfig.json src views static prompts $out/lib/hyperhive/
    ln -s ${nodeModules}/node_modules $out/lib/hyperhive/node_modules
    makeWrapper ${bun}/bin/bun $out/bin/hive \
      --add-flags $out/lib/hyperhive/src/main.ts \
      --set-default HIVE_CLAUDE_BIN ${claude}/bin/claude \
      --suffix PATH : ${
        lib.makeBinPath [
          git
          bubblewrap
          systemd
        ]
      }
    runHook postInstall
  '';
  passthru = {
    inherit bun nodeModules claude;
  };
  meta = {
    description = "A swarm of Claude Code agents on one host: sandboxes, a broker over MCP, git-gated config, a live dashboard";
    license = lib.licenses.mit;
    mainProgram = "hive";
    inherit platforms;
  };
}
