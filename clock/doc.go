// Package clock holds the process clock. Every timestamp the server writes
// and every timer it arms reads this one clock, so that dev mode can run time
// faster (GISBI_CLOCK_SPEED) to simulate hours of together-time in minutes,
// and so state-machine tests can drive time by hand with Fake instead of
// sleeping.
package clock
