/**
 * The invariant checks of DESIGN.md ("Invariants the checker knows") as observers of the
 * engine's events ({@link ptlab.engine.Checker}): {@link ptlab.check.Invariants} for the ones
 * every machine has (2 freed tables, 3 stale TLB entries, 5 faults in NMIs, 6 leaks and double
 * frees), {@link ptlab.check.Leaks} for invariant 6 at the end of a kernel-level schedule, and
 * {@link ptlab.check.KernelChecks} for the end checks a scenario adds (invariant 1 against the
 * shadow record of writes). Each check counts how often it ran: a pass whose check never ran is
 * no pass. Layering: {@code check} depends on {@code engine} (and the layers below it); the
 * engine knows only the {@code Checker} interface it is given.
 */
package ptlab.check;
