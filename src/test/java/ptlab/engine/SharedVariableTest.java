package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.kernel.SharedLong;

/**
 * Kernel shared variables under the engine: every get, set and read-modify-write is a
 * scheduling point at the variable's location, so a check-then-act on one is a race the
 * explorer finds, the atomic form is not, and a trace names the variable.
 */
class SharedVariableTest {

    private static CpuRegisters regs() {
        CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
        r.setCr3(0x1000);
        return r;
    }

    /** Two CPUs add 1 to one shared counter: get then set (racy), or one atomic add. */
    static Scenario counter(boolean atomic) {
        return MachineTest.scenario("shared-counter", () -> {
            Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
            KernelBridge b = KernelBridge.attach(m);
            SharedLong counter = new SharedLong(b, "counter", 0);
            for (int i = 0; i < 2; i++) {
                m.addCpu(regs(), c -> {
                    if (atomic) {
                        counter.addAndGet(1);
                    } else {
                        counter.set(counter.get() + 1);
                    }
                });
            }
            m.addEndCheck(mm -> counter.plainGet() == 2 ? null
                    : new Violation(4, mm.steps(), "lost update: counter " + counter.plainGet()));
            return m;
        });
    }

    @Test
    void checkThenSetOnASharedVariableIsARaceExhaustiveSearchFinds() {
        Explorer.Summary s = Explorer.explore(counter(false), null, Explorer.Settings.of("exhaustive", 0, 1000, 2),
                () -> false, null);
        assertNotNull(s.violation(), "the lost update needs the other CPU between get and set");
        assertTrue(s.violation().message().contains("counter 1"), s.violation().message());
        TraceRecorder trace = new TraceRecorder();
        Explorer.replay(counter(false), null, s.schedule().choices(), Explorer.DEFAULT_MAX_STEPS, trace);
        List<String> lines = trace.lines().stream().map(TraceRecorder.Line::format).toList();
        assertTrue(lines.stream().anyMatch(l -> l.contains("shared-load") && l.endsWith("reads counter")),
                String.join("\n", lines));
        assertTrue(lines.stream().anyMatch(l -> l.contains("shared-store") && l.endsWith("writes counter")),
                String.join("\n", lines));
    }

    @Test
    void anAtomicAddIsOnePointAndNeverLosesAnUpdate() {
        Explorer.Summary s = Explorer.explore(counter(true), null, Explorer.Settings.of("exhaustive", 0, 1000, 2),
                () -> false, null);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted());
        TraceRecorder trace = new TraceRecorder();
        Explorer.replay(counter(true), null, new int[0], Explorer.DEFAULT_MAX_STEPS, trace);
        assertEquals(2, trace.lines().stream().filter(l -> l.format().endsWith("updates counter")).count(),
                () -> trace.lines().toString());
    }

    /** Accesses before the machine runs (setup) and inside {@link Machine#unobserved} are not points. */
    @Test
    void setupAndCheckerAccessesAreNoPoints() {
        Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        KernelBridge b = KernelBridge.attach(m);
        SharedLong v = new SharedLong(b, "v", 0);
        v.set(5);                                         // setup: no CPU runs
        m.addCpu(regs(), c -> {
            m.unobserved(() -> v.get());                  // a checker's read
            v.set(v.get() + 1);                           // two points
        });
        assertEquals(Machine.Outcome.DONE, m.run(new Strategies.Random(), new int[100], 100));
        assertEquals(6, v.plainGet());
        assertEquals(3, m.steps(), "start, shared load, shared store (then idle, not a step)");
    }
}
