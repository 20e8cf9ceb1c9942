//go:build !unix

package bench

func raiseFileLimit() uint64 { return 0 }
