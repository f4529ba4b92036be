//go:build !purego

package e2e

const pureGo = false
