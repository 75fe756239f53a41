package mon

// SetActivateHook makes f run in PGActivate between the first check and
// its write (nil: nothing); external tests race map changes with it.
func SetActivateHook(f func()) {
	if f == nil {
		testHookActivateChecked.Store(nil)
		return
	}
	testHookActivateChecked.Store(&f)
}
