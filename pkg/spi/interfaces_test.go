package spi

// The fake is what the commands drive, checked at compile time.
var _ Kernel = (*fakeKernel)(nil)
