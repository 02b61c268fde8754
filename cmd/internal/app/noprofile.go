//go:build !erouteprof

package app

// startProfile does nothing: see profile.go (-tags erouteprof).
func startProfile() func() { return func() {} }
