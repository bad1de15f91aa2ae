package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.Test;

import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Strategies;
import ptlab.tools.Scenarios;

/**
 * What starting one kernel-level explore schedule costs, in bytes allocated: a kernel booted
 * over 32 MiB of RAM, a process with two threads and a faulted-in page, two CPUs (issue 10's
 * "fast resets"). Bytes do not depend on the machine's load, unlike time on this shared 2-core
 * machine. Printed as a {@code MEASURE} line (README's performance section quotes it). Before
 * struct pages and split ptlocks were made per 2 MiB block on first use, a boot allocated
 * per-frame arrays over all of RAM: 235,648 bytes per schedule start (commit 5d589a2, measured
 * the same way); the bound below fails if that comes back.
 */
class ScheduleStartCostTest {

    @Test
    void aKernelScheduleStartsWithoutPerFrameArraysOverRam() {
        Scenario sc = Scenarios.byName("tlb-stale-after-unmap");
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        int[] trail = new int[10_000];
        Strategies.Random random = new Strategies.Random();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 300; i++) {   // warm enough that escape analysis has run on the boot path
            long before = mx.getThreadAllocatedBytes(tid);
            Machine m = sc.build("munmap-shootdown");
            best = Math.min(best, mx.getThreadAllocatedBytes(tid) - before);
            random.reset(Strategies.scheduleSeed(1, i));
            assertEquals(Machine.Outcome.DONE, m.run(random, trail, trail.length));
        }
        System.out.printf("MEASURE explore schedule start (tlb-stale-after-unmap munmap-shootdown): %d bytes allocated%n",
                best);
        assertTrue(best < 128 << 10, "a schedule's kernel boot allocated " + best + " bytes");

        // what the explorer does: the kernel restored from the search's boot image
        java.util.function.Supplier<Machine> machines = sc.machines("munmap-shootdown");
        long restored = Long.MAX_VALUE;
        for (int i = 0; i < 300; i++) {
            long before = mx.getThreadAllocatedBytes(tid);
            Machine m = machines.get();
            restored = Math.min(restored, mx.getThreadAllocatedBytes(tid) - before);
            random.reset(Strategies.scheduleSeed(1, i));
            assertEquals(Machine.Outcome.DONE, m.run(random, trail, trail.length));
        }
        System.out.printf("MEASURE explore schedule start from the boot image (tlb-stale-after-unmap munmap-shootdown): "
                + "%d bytes allocated%n", restored);
        assertTrue(restored < best, "restoring the boot image (" + restored + " bytes) costs less than a boot (" + best
                + ")");
    }
}
