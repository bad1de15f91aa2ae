package ptlab.engine;

import ptlab.hw.FrameGenerations;

/**
 * What the engine tells the invariant checks. The engine produces the events — a page walker
 * reads an entry, kernel code writes memory, a user access completes, a page or page-table page
 * is freed or a frame allocated, an NMI handler runs or faults, a schedule ends — and counts
 * nothing and judges nothing itself; {@code ptlab.check.Invariants} implements the invariants
 * of DESIGN.md as observers of these events, each counting how often it ran. The layers stay
 * one-way: {@code check} depends on the engine, the engine only on this interface, injected
 * per {@link Machine} at construction (two machines never share a checker).
 *
 * <p>When: every event but {@link #scheduleEnded} is delivered inside the step of the CPU
 * concerned, after that step's scheduling point, so the state a check reads is the state at the
 * instant of the operation; a check that finds a violation reports it with
 * {@link Machine#fail}, which ends the run at the end of the step. {@link #scheduleEnded} runs
 * between steps, when every CPU has finished.
 */
public interface Checker extends FrameGenerations {

    /** The machine this checker watches: called once, by the Machine constructor. */
    void attach(Machine m);

    /** The CPUs exist and the run is about to take its first step (the baseline of end checks). */
    void runStarts();

    /** Invariant {@code invariant}'s check was evaluated once, whatever its result. */
    void checked(int invariant);

    /** How often invariant {@code invariant}'s check was evaluated in this run. */
    long runs(int invariant);

    /** Kernel code (not a walker) of {@code c} stores to or updates {@code pa}. */
    void kernelWrite(SimCpu c, long pa, boolean store);

    /** {@code c}'s page walker reads (or sets A/D in) the entry at {@code pa}. */
    void walkerAccess(SimCpu c, long pa);

    /** {@code c} completed a user access at {@code pa} through a translation of {@code va}. */
    void userAccessDone(SimCpu c, long va, long pa, boolean write);

    /** {@code by} freed page-table page {@code frame} (mmu_gather's table free, or a scenario's). */
    void pageTableFreed(SimCpu by, long frame);

    /** {@code by} freed user page {@code frame}, which {@code va} mapped. */
    void userPageFreed(SimCpu by, long va, long frame);

    /** A scenario (not the kernel's allocator) freed {@code frame}: a second free of it is a double free. */
    void scenarioFreed(SimCpu by, long frame);

    /** {@code frame} was allocated (the kernel's allocator, or a scenario reusing a frame it freed). */
    void frameAllocated(long frame);

    /** The kernel's allocator put {@code frame} back on its free lists. */
    void frameReleased(long frame);

    /** Freed by a scenario, or free in the kernel's allocator. */
    boolean isFreed(long pa);

    /** Faults and nested NMIs inside an NMI handler are counted, not reported (invariant 5 off). */
    void tolerateNmiFaults(boolean tolerate);

    /** An NMI handler starts on {@code c}; {@code nested}: inside another NMI handler. */
    void nmiHandlerRuns(SimCpu c, Interrupt irq, boolean nested);

    /** {@code c} took a page fault at {@code address} inside an NMI handler. */
    void faultInNmi(SimCpu c, long address);

    /** Every CPU finished its program: the end-of-schedule checks; null or the violation. */
    Violation scheduleEnded();
}
