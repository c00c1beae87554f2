package main

import "runtime/debug"

// version is the plugin version, set at build time with
// -ldflags "-X main.version=1.2.3". Without it, the module version from
// the build information is used, or 0.0.0-dev for a local build.
var version = ""

// pluginVersion returns the SemVer version notation sees.
func pluginVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && len(info.Main.Version) > 1 && info.Main.Version != "(devel)" {
		return info.Main.Version[1:] // strip the "v"
	}
	return "0.0.0-dev"
}
