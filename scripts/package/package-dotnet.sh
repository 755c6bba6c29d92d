#!/usr/bin/env bash
# The NuGet package dist/Certless.VERSION.nupkg (version from scripts/package/version.sh):
#   lib/net45/Certless.dll (+ .xml)      dotnet/Certless.cs and CertlessAuthenticationHandler.cs, compiled
#                                        against the .NET Framework 4.5 reference assemblies, so that an
#                                        API added after 4.5 fails this build
#   runtimes/{win-x64,win-x86,linux-x64}/native/   the native libraries of dist/native/ (built once by
#                                        scripts/package/package-native.sh, which must run first)
#   build/net45/Certless.targets and buildTransitive/net45/Certless.targets
#                                        copy the native libraries into the output's x64\ and x86\ (and
#                                        libcertless.so beside the .exe on Mono) for packages.config
#                                        .NET Framework projects, which NuGet gives no runtimes/ handling
#
#   scripts/package/package-dotnet.sh           build
#   scripts/package/package-dotnet.sh --check   with no cargo or rustc on PATH: install the package from dist/ as
#                                       a local feed (nuget install) into an old-style packages.config
#                                       .csproj, build it with xbuild, check the native libraries landed
#                                       in bin\x64, bin\x86 (and libcertless.so), and run it on Mono to
#                                       get a token from the emulator through CertlessAuthenticationHandler
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
DIST="$ROOT/dist"
VERSION="$(scripts/package/version.sh)" || exit 1
NUPKG="$DIST/Certless.$VERSION.nupkg"
REFERENCE_ASSEMBLIES=/usr/lib/mono/4.5-api

section() { printf '\n== %s ==\n' "$*"; }
# shellcheck source=scripts/lib/apt-env.sh
source "$ROOT/scripts/lib/apt-env.sh"
write_sums() {
  (cd "$DIST" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' sha256sum >SHA256SUMS)
}

# mcs against the 4.5 reference assemblies only (no GAC, no newer mscorlib).
mcs_net45() {
  mcs -langversion:7.2 -nostdlib -noconfig -lib:"$REFERENCE_ASSEMBLIES" \
    -r:mscorlib.dll -r:System.dll -r:System.Core.dll -r:System.Net.Http.dll "$@"
}

# ---------------------------------------------------------------------------------------------
build() {
  local start=$SECONDS
  section "tools"
  # mono-devel carries the reference assemblies in /usr/lib/mono/4.5-api; zip packs the package.
  apt_install mono-devel zip || return 1
  [[ -f "$REFERENCE_ASSEMBLIES/mscorlib.dll" ]] || { echo "$REFERENCE_ASSEMBLIES is missing"; return 1; }
  local rid
  for rid in win-x64/certless.dll win-x86/certless.dll linux-x64/libcertless.so; do
    [[ -f "$DIST/native/$rid" ]] || { echo "dist/native/$rid is missing: run scripts/package/package-native.sh first"; return 1; }
  done

  local work="$TARGET_DIR/package-dotnet"
  local pkg="$work/package"
  rm -rf "$work" && mkdir -p "$pkg" || return 1

  section "the API floor: .NET Framework 4.5"
  # An API added after 4.5 (Task.CompletedTask is 4.6) must fail against these references, or
  # the floor is not enforced.
  printf 'class Probe { System.Threading.Tasks.Task T() { return System.Threading.Tasks.Task.CompletedTask; } }\n' \
    >"$work/Probe.cs"
  if mcs_net45 -target:library -out:"$work/Probe.dll" "$work/Probe.cs" >"$work/probe.log" 2>&1; then
    echo "a 4.6 API compiled against $REFERENCE_ASSEMBLIES: the floor is not enforced"
    return 1
  fi
  echo "Task.CompletedTask (4.6) does not compile against the 4.5 references: $(grep -o 'error CS[0-9]*' "$work/probe.log" | head -1)"

  section "Certless.dll for net45"
  mkdir -p "$pkg/lib/net45"
  cat >"$work/AssemblyInfo.cs" <<EOF
[assembly: System.Reflection.AssemblyTitle("certless")]
[assembly: System.Reflection.AssemblyDescription("Microsoft Entra access tokens from a managed identity, no certificate, no secret")]
[assembly: System.Reflection.AssemblyVersion("${VERSION%%[-+]*}.0")]
[assembly: System.Reflection.AssemblyFileVersion("${VERSION%%[-+]*}.0")]
[assembly: System.Reflection.AssemblyInformationalVersion("$VERSION")]
EOF
  mcs_net45 -warnaserror+ -optimize+ -target:library -doc:"$pkg/lib/net45/Certless.xml" \
    -out:"$pkg/lib/net45/Certless.dll" dotnet/Certless.cs dotnet/CertlessAuthenticationHandler.cs "$work/AssemblyInfo.cs" ||
    return 1

  section "the package"
  mkdir -p "$pkg/runtimes/win-x64/native" "$pkg/runtimes/win-x86/native" "$pkg/runtimes/linux-x64/native" \
    "$pkg/build/net45" "$pkg/buildTransitive/net45" "$pkg/_rels"
  cp "$DIST/native/win-x64/certless.dll" "$pkg/runtimes/win-x64/native/" &&
    cp "$DIST/native/win-x86/certless.dll" "$pkg/runtimes/win-x86/native/" &&
    cp "$DIST/native/linux-x64/libcertless.so" "$pkg/runtimes/linux-x64/native/" || return 1
  write_targets "$pkg/build/net45/Certless.targets"
  cp "$pkg/build/net45/Certless.targets" "$pkg/buildTransitive/net45/Certless.targets"
  write_nuspec "$pkg/Certless.nuspec"
  # The Open Packaging Conventions parts NuGet expects beside the nuspec.
  cat >"$pkg/[Content_Types].xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="targets" ContentType="application/octet" />
</Types>
EOF
  cat >"$pkg/_rels/.rels" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/Certless.nuspec" Id="R1" />
</Relationships>
EOF
  rm -f "$DIST"/Certless.*.nupkg
  # Fixed timestamps and order, so two builds differ only in Certless.dll's module id (mcs has no
  # deterministic mode).
  find "$pkg" -exec touch -d "2000-01-01 00:00:00 UTC" {} +
  (cd "$pkg" && find . -type f -printf '%P\n' | LC_ALL=C sort | zip -q -X -D -9 "$NUPKG" -@) || return 1
  write_sums
  unzip -l "$NUPKG"
  echo "$(basename "$NUPKG"): $(stat -c %s "$NUPKG") bytes"
  echo "package-dotnet: built in $((SECONDS - start)) s"
}

write_nuspec() {
  cat >"$1" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2010/07/nuspec.xsd">
  <metadata>
    <id>Certless</id>
    <version>$VERSION</version>
    <title>certless</title>
    <authors>certless contributors</authors>
    <owners>certless</owners>
    <requireLicenseAcceptance>false</requireLicenseAcceptance>
    <licenseUrl>https://github.com/certless/certless/blob/main/README.md</licenseUrl>
    <projectUrl>https://github.com/certless/certless</projectUrl>
    <description>Microsoft Entra access tokens from a managed identity through a federated identity credential: no certificate, no secret. For .NET Framework 4.5+ (IIS, 32- and 64-bit application pools) and Mono; a DelegatingHandler for HttpClient answers Continuous Access Evaluation challenges. Native library for Windows x64/x86 and Linux x64 included. License: MIT OR Apache-2.0.</description>
    <tags>azure entra managed-identity federated-credential sharepoint token</tags>
    <frameworkAssemblies>
      <frameworkAssembly assemblyName="System.Net.Http" targetFramework=".NETFramework4.5" />
    </frameworkAssemblies>
  </metadata>
</package>
EOF
}

write_targets() {
  cat >"$1" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<!--
  certless's native library for .NET Framework projects. NuGet gives packages.config projects no
  handling of runtimes/, so this copies the native libraries into the output: x64\certless.dll and
  x86\certless.dll (Certless.dll loads the one matching the process's bitness, so one deployment
  serves 32-bit and 64-bit IIS application pools), and, when building on Mono, libcertless.so beside
  the application. Set CertlessCopyNativeLibraries to false to ship them yourself.
-->
<Project xmlns="http://schemas.microsoft.com/developer/msbuild/2003" ToolsVersion="4.0">
  <PropertyGroup>
    <CertlessNativeDir>$(MSBuildThisFileDirectory)..\..\runtimes\</CertlessNativeDir>
  </PropertyGroup>
  <ItemGroup Condition="'$(CertlessCopyNativeLibraries)' != 'false' And ('$(TargetFrameworkIdentifier)' == '.NETFramework' Or '$(TargetFrameworkIdentifier)' == '')">
    <None Include="$(CertlessNativeDir)win-x64\native\certless.dll">
      <Link>x64\certless.dll</Link>
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
      <Visible>false</Visible>
    </None>
    <None Include="$(CertlessNativeDir)win-x86\native\certless.dll">
      <Link>x86\certless.dll</Link>
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
      <Visible>false</Visible>
    </None>
    <None Include="$(CertlessNativeDir)linux-x64\native\libcertless.so" Condition="'$(OS)' != 'Windows_NT'">
      <Link>libcertless.so</Link>
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
      <Visible>false</Visible>
    </None>
  </ItemGroup>
</Project>
EOF
}

# ---------------------------------------------------------------------------------------------
check() {
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  unset CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET
  if command -v cargo || command -v rustc; then
    echo "cargo or rustc is still on PATH; the check needs an environment without them"
    return 1
  fi
  [[ -f "$NUPKG" ]] || { echo "$NUPKG is missing: run scripts/package/package-dotnet.sh first"; return 1; }
  local cli
  cli="$(ls "$DIST"/certless-"$VERSION"-linux-x64 2>/dev/null)"
  [[ -x "$cli" ]] || { echo "dist/certless-$VERSION-linux-x64 (the emulator) is missing: run scripts/package/package-native.sh"; return 1; }
  # xbuild builds old-style projects; Debian's nuget (2.8, on Mono) installs from a folder feed.
  apt_install mono-devel mono-xbuild nuget libmono-system-net-http4.0-cil || return 1
  local start=$SECONDS work="$TARGET_DIR/package-check/dotnet"
  rm -rf "$work" && mkdir -p "$work/feed" "$work/App/Properties" || return 1
  cp "$NUPKG" "$work/feed/" || return 1

  section "the package's layout"
  local listing entry ok=0
  listing="$(unzip -Z1 "$NUPKG")"
  for entry in Certless.nuspec lib/net45/Certless.dll lib/net45/Certless.xml runtimes/win-x64/native/certless.dll \
    runtimes/win-x86/native/certless.dll runtimes/linux-x64/native/libcertless.so build/net45/Certless.targets \
    buildTransitive/net45/Certless.targets; do
    grep -qx "$entry" <<<"$listing" || { echo "missing: $entry"; ok=1; }
  done
  ((ok == 0)) || return 1
  echo "every expected entry is there"

  section "nuget install from a local folder feed (packages.config)"
  cat >"$work/App/packages.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="Certless" version="$VERSION" targetFramework="net45" />
</packages>
EOF
  (cd "$work/App" && HOME="$work/home" nuget install packages.config -Source "$work/feed" -OutputDirectory ../packages \
    -NonInteractive) || return 1

  section "an old-style .csproj, as Visual Studio writes it after installing the package, built with xbuild"
  write_consumer "$work/App"
  (cd "$work/App" && xbuild /nologo /verbosity:minimal /p:Configuration=Release App.csproj) || return 1
  local bin="$work/App/bin/Release" f
  for f in App.exe Certless.dll x64/certless.dll x86/certless.dll libcertless.so; do
    [[ -f "$bin/$f" ]] || { echo "bin/Release/$f is missing"; ok=1; }
  done
  ((ok == 0)) || return 1
  cmp -s "$bin/x64/certless.dll" "$DIST/native/win-x64/certless.dll" &&
    cmp -s "$bin/x86/certless.dll" "$DIST/native/win-x86/certless.dll" || { echo "bin\\x64, bin\\x86 differ from dist/native"; return 1; }
  echo "bin/Release has App.exe, Certless.dll, x64\\certless.dll, x86\\certless.dll and libcertless.so"

  section "run on Mono against the emulator"
  # shellcheck source=scripts/lib/emulator-env.sh
  source scripts/lib/emulator-env.sh
  trap emulator_stop EXIT
  emulator_start "$cli" "$work/emulator" --https-port 0 || return 1
  (cd "$bin" && timeout 120 mono App.exe) | tee "$work/app.txt"
  local status=${PIPESTATUS[0]}
  emulator_stop
  ((status == 0)) && grep -q "^native version $VERSION$" "$work/app.txt" && grep -q "^token ok" "$work/app.txt" || return 1
  echo "package-dotnet --check: 1 passed, 0 failed ($((SECONDS - start)) s)"
}

write_consumer() {
  local app="$1"
  cat >"$app/App.csproj" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="4.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Configuration Condition=" '\$(Configuration)' == '' ">Release</Configuration>
    <Platform Condition=" '\$(Platform)' == '' ">AnyCPU</Platform>
    <ProjectGuid>{6B2D6E37-9D1C-4E0F-9E43-2C4B5C1E8A11}</ProjectGuid>
    <OutputType>Exe</OutputType>
    <RootNamespace>App</RootNamespace>
    <AssemblyName>App</AssemblyName>
    <TargetFrameworkVersion>v4.5</TargetFrameworkVersion>
    <OutputPath>bin\\\$(Configuration)\\</OutputPath>
    <LangVersion>7.2</LangVersion>
  </PropertyGroup>
  <ItemGroup>
    <Reference Include="Certless">
      <HintPath>..\\packages\\Certless.$VERSION\\lib\\net45\\Certless.dll</HintPath>
    </Reference>
    <Reference Include="System" />
    <Reference Include="System.Core" />
    <Reference Include="System.Net.Http" />
  </ItemGroup>
  <ItemGroup>
    <Compile Include="Program.cs" />
  </ItemGroup>
  <ItemGroup>
    <None Include="packages.config" />
  </ItemGroup>
  <Import Project="\$(MSBuildToolsPath)\\Microsoft.CSharp.targets" />
  <Import Project="..\\packages\\Certless.$VERSION\\build\\net45\\Certless.targets" Condition="Exists('..\\packages\\Certless.$VERSION\\build\\net45\\Certless.targets')" />
</Project>
EOF
  cat >"$app/Program.cs" <<'EOF'
using System;
using System.Net;
using System.Net.Http;
using System.Text;
using Certless;

// Gets a token from the environment's managed identity (the emulator) and sends it through the
// package's HttpClient handler to the emulator's token verification endpoint.
internal static class Program
{
    private static int Main()
    {
        Console.WriteLine("native version " + CertlessCredential.NativeVersion);
        using (var credential = CertlessCredential.FromEnvironment())
        {
            CertlessToken token = credential.GetToken("https://contoso.sharepoint.com/.default");
            var handler = new CertlessAuthenticationHandler(credential, "https://contoso.sharepoint.com/.default")
            {
                InnerHandler = new HttpClientHandler(),
            };
            using (var client = new HttpClient(handler))
            {
                string url = Environment.GetEnvironmentVariable("CERTLESS_TEST_EMULATOR_URL") + "/_emulator/verify";
                string body = "{\"token\":\"" + token.Token + "\"}";
                HttpResponseMessage response = client.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json")).Result;
                string verdict = response.Content.ReadAsStringAsync().Result;
                bool valid = response.StatusCode == HttpStatusCode.OK && verdict.Contains("\"valid\":true");
                Console.WriteLine((valid ? "token ok: " : "token rejected: ") + token);
                return valid ? 0 : 1;
            }
        }
    }
}
EOF
}

case "${1:-}" in
  --check) check ;;
  "") build ;;
  *) echo "usage: scripts/package/package-dotnet.sh [--check]" >&2; exit 2 ;;
esac
